/**
 * Keeping results elsewhere (README): a host keeps results in a store of its own with the `resultStore` option, as an
 * instance or as a class that Nest creates with its dependencies (the TypeORM `DataSource`, the module options), in
 * `forRoot()` or from the factory of `forRootAsync()`. A background request's result is then written to that store
 * (no file in `resultDir`), its location in the store's own form is the record's `result`, and `/result` serves it
 * from there, byte for byte the foreground answer. The store's `onModuleInit` and `onModuleDestroy` run once each.
 * Something that is no store is refused at start with an error that names the option.
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  Header,
  Inject,
  Injectable,
  Query,
  type DynamicModule,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import {
  BGRS_OPTIONS,
  BGRS_RESULT_STORE,
  BackgroundCapable,
  BgrsModule,
  type BgrsModuleOptions,
  type BgrsResultHeaders,
  type BgrsResultStore,
  type BgrsResultWriter,
  type BgrsStoredEntry,
  type BgrsStoredResult,
  type ResolvedBgrsOptions,
} from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { resultOf, sendRaw, submit, waitForStatus } from './support/http.js';

/** Results in memory: the whole `BgrsResultStore` interface, and what Nest and the module asked of it. */
class MemoryResultStore implements BgrsResultStore, OnModuleInit, OnModuleDestroy {
  readonly results = new Map<string, { body: Buffer; headers: BgrsResultHeaders }>();
  readonly opened: string[] = [];
  initialized = 0;
  destroyed = 0;

  onModuleInit(): void {
    this.initialized++;
  }

  onModuleDestroy(): void {
    this.destroyed++;
  }

  create(rid: string): BgrsResultWriter {
    const chunks: Buffer[] = [];
    const body = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    return {
      body,
      commit: async (_contentType, headers) => {
        await finished(body);
        const location = `memory:${rid}`;
        this.results.set(location, { body: Buffer.concat(chunks), headers });
        return location;
      },
      discard: async () => {
        body.destroy();
      },
    };
  }

  async open(location: string): Promise<BgrsStoredResult> {
    const result = this.results.get(location);
    if (!result) {
      throw new Error(`no result at ${location}`);
    }
    this.opened.push(location);
    return { body: Readable.from([result.body]), size: result.body.length, headers: result.headers };
  }

  async remove(location: string): Promise<void> {
    this.results.delete(location);
  }

  async abandon(): Promise<void> {}

  async *list(): AsyncIterable<BgrsStoredEntry> {
    for (const location of this.results.keys()) {
      yield { rid: location.slice('memory:'.length), location, modifiedAt: new Date(), committed: true };
    }
  }
}

/** A store that Nest creates, with what a database-backed store would inject. */
@Injectable()
class InjectedResultStore extends MemoryResultStore {
  constructor(
    readonly dataSource: DataSource,
    @Inject(BGRS_OPTIONS) readonly options: ResolvedBgrsOptions,
  ) {
    super();
  }
}

@Controller('exports')
class ExportsController {
  @Get('csv')
  @BackgroundCapable()
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @Header('Content-Disposition', 'attachment; filename="squares.csv"')
  csv(@Query('n') n: string) {
    return `n,square\n${n},${Number(n) ** 2}\n`;
  }
}

interface StoreCase {
  name: string;
  /** How the app imports BgrsModule, given the test's options and a fresh instance (which class cases ignore). */
  module: (options: BgrsModuleOptions, instance: MemoryResultStore) => DynamicModule;
  /** Whether Nest creates the store from the class (else it is the instance given). */
  fromClass: boolean;
}

const CASES: StoreCase[] = [
  {
    name: 'an instance in forRoot()',
    module: (options, instance) => BgrsModule.forRoot({ ...options, resultStore: instance }),
    fromClass: false,
  },
  {
    name: 'a class in forRoot()',
    module: (options) => BgrsModule.forRoot({ ...options, resultStore: InjectedResultStore }),
    fromClass: true,
  },
  {
    name: 'an instance from the factory of forRootAsync()',
    module: (options, instance) =>
      BgrsModule.forRootAsync({ useFactory: () => ({ ...options, resultStore: instance }) }),
    fromClass: false,
  },
  {
    name: 'a class from the factory of forRootAsync()',
    module: (options) =>
      BgrsModule.forRootAsync({ useFactory: async () => ({ ...options, resultStore: InjectedResultStore }) }),
    fromClass: true,
  },
];

function suite(adapter: TestAdapter): void {
  for (const storeCase of CASES) {
    describe(`resultStore as ${storeCase.name}`, () => {
      const instance = new MemoryResultStore();
      let testApp: TestApp;
      let store: MemoryResultStore;
      let closed = false;

      before(async () => {
        testApp = await startTestApp({
          adapter,
          controllers: [ExportsController],
          bgrsModule: (options) => storeCase.module(options, instance),
        });
        store = testApp.app.get(BGRS_RESULT_STORE);
      });

      after(async () => {
        if (!closed) {
          await testApp?.close();
        }
      });

      it('is the store the module uses', () => {
        if (storeCase.fromClass) {
          assert.ok(store instanceof InjectedResultStore, `the store is ${store?.constructor.name}`);
          assert.equal(store.dataSource, testApp.app.get(DataSource), 'the app’s DataSource is injected');
          assert.equal(store.options.progressIntervalMs, 50, 'the module options are injected');
        } else {
          assert.equal(store, instance);
        }
        assert.equal(store.initialized, 1, 'onModuleInit ran once');
      });

      it('takes the result of a background request and serves it from there', async () => {
        const { http } = testApp;
        const foreground = await sendRaw(http, { path: '/exports/csv?n=12' });
        const rid = await submit(http, { path: '/exports/csv?n=12' });
        const record = await waitForStatus(http, rid, 'finished');
        assert.deepEqual([...store.results.keys()], [`memory:${rid}`]);
        assert.equal(record.result, `memory:${rid}`, 'the record names the result in the store’s form');

        const result = await resultOf(http, rid);
        assert.deepEqual(store.opened, [`memory:${rid}`], 'served from the store');
        assert.equal(result.status, 200);
        assert.equal(result.headers['content-type'], foreground.headers['content-type']);
        assert.equal(result.headers['content-disposition'], 'attachment; filename="squares.csv"');
        assert.deepEqual(result.body, foreground.body);
        assert.deepEqual(await readdir(testApp.resultDir), [], 'no file in resultDir');
      });

      it('runs its onModuleDestroy once when the app closes', async () => {
        closed = true;
        await testApp.close();
        assert.equal(store.destroyed, 1);
        assert.equal(store.initialized, 1);
      });
    });
  }

  describe('resultStore that is no store', () => {
    class NotAStore {}
    const notStores: Array<[string, unknown]> = [
      ['an object without the methods', {}],
      ['a class without the methods', NotAStore],
      ['a string', 'memory'],
    ];
    for (const [what, resultStore] of notStores) {
      it(`refuses ${what} at start, naming the option`, async () => {
        const started = await startTestApp({ adapter, bgrs: { resultStore: resultStore as BgrsResultStore } }).catch(
          (error: Error) => error,
        );
        if (!(started instanceof Error)) {
          await started.close();
          assert.fail(`the app started with ${what} as its resultStore`);
        }
        assert.match(
          started.message,
          /resultStore must be a BgrsResultStore or its class: .+ has no create, open, remove, abandon, list\./,
        );
      });
    }
  });
}

for (const adapter of adapters) {
  describe(adapter.name, () => suite(adapter));
}
