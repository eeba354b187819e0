/**
 * Live progress (README, “Lookup endpoints”): `GET /bgrs/:rid/events` is a Server-Sent Events stream, read here with a
 * plain streaming HTTP client (node:http, `event:`/`data:` lines). It sends the current state at once (`state`),
 * a `detail` for each new details row in order and a `state` for each change of progress as a gated handler
 * reports, and a final `end` with the finished record, after which the server closes the stream. The database is
 * the source, so a client watching on instance B follows a request running on instance A. An ended request answers
 * `end` at once; an unknown rid is a JSON 404 and a malformed one a JSON 400; many clients watching the same and
 * different requests each get their whole sequence. Every step waits for the events of the one before (gates, no
 * timings): the only clocks are poll deadlines.
 */
import 'reflect-metadata';
import { Controller, Get, Inject, Query } from '@nestjs/common';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type ClientRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable, ProgressReporter } from '../src/index.js';
import { startAppOn, type AppOnDatabase } from './support/app-on-database.js';
import { startTestApp, type TestApp } from './support/app.js';
import { TestDatabase, createScratch, disposeScratch } from './support/database.js';
import { Gates } from './support/gate.js';
import {
  DATE_PATTERN,
  detailsOf,
  lookup,
  submit,
  waitForStatus,
  type HttpClient,
  RECORD_FIELDS,
} from './support/http.js';
import { DEFAULT_DEADLINE_MS, eventually } from './support/wait.js';

const DETAIL_FIELDS = ['details', 'dt', 'id', 'rid'];

const gates = new Gates();
/** Which instance ran each handler, by name. */
const ranOn = new Map<string, string>();
const INSTANCE = Symbol('INSTANCE');

/** The progress a handler of `steps` steps reports at step `step`, as the record renders it. */
function progressAt(step: number, steps: number): string {
  return (Math.round((step * 10_000) / (steps + 1)) / 100).toFixed(2);
}

@Controller('work')
class WorkController {
  constructor(
    private readonly progress: ProgressReporter,
    @Inject(INSTANCE) private readonly instance: string,
  ) {}

  /**
   * Waits at gate `<name>:0`, then for each step reports its progress with a details row `<name> step <i>` and waits
   * at gate `<name>:<i>`; then answers.
   */
  @Get('steps')
  @BackgroundCapable()
  async steps(@Query('name') name: string, @Query('steps') steps: string) {
    ranOn.set(name, this.instance);
    const count = Number(steps);
    await gates.wait(`${name}:0`);
    for (let step = 1; step <= count; step++) {
      await this.progress.report((step * 100) / (count + 1), `${name} step ${step}`);
      await gates.wait(`${name}:${step}`);
    }
    return { done: name };
  }
}

const instance = (name: string) => ({ provide: INSTANCE, useValue: name });

interface SseEvent {
  event: string;
  data: any;
}

/** One client of `GET /bgrs/<rid>/events`, reading the stream as it comes. */
class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  headers: IncomingHttpHeaders = {};
  /** Settles when the server ends the stream (or it breaks). */
  readonly closed: Promise<void>;
  private ended = false;
  private request: ClientRequest;

  constructor(port: number, path: string) {
    let buffered = '';
    this.closed = new Promise<void>((resolve, reject) => {
      this.request = httpRequest(
        { host: '127.0.0.1', port, path, headers: { Accept: 'text/event-stream' }, agent: false },
        (response) => {
          this.status = response.statusCode ?? 0;
          this.headers = response.headers;
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            buffered += chunk;
            let blank: number;
            while ((blank = buffered.search(/\r?\n\r?\n/)) >= 0) {
              this.dispatch(buffered.slice(0, blank));
              buffered = buffered.slice(blank).replace(/^\r?\n\r?\n/, '');
            }
          });
          response.on('end', () => {
            this.ended = true;
            resolve();
          });
          response.on('error', reject);
        },
      );
      this.request.on('error', (error) => (this.ended ? resolve() : reject(error)));
      this.request.end();
    });
    // Observed through `closed` by the tests; never an unhandled rejection.
    this.closed.catch(() => undefined);
  }

  /** Whether the server has ended the stream. */
  get isClosed(): boolean {
    return this.ended;
  }

  /** The events as short tokens: `state:25.00`, `detail:a step 1`, `end:finished:100.00`. */
  get tokens(): string[] {
    return this.events.map(tokenOf);
  }

  /** Waits (poll deadline) until the events include every one of `tokens`. */
  async waitFor(what: string, tokens: string[]): Promise<void> {
    await eventually(
      `${what}: ${tokens.join(', ')}`,
      async () => (tokens.every((token) => this.tokens.includes(token)) ? true : undefined),
      { describeLast: () => JSON.stringify(this.tokens) },
    );
  }

  /** Waits until the server has ended the stream, failing at the deadline. */
  async waitUntilClosed(what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: the stream is still open; events ${JSON.stringify(this.tokens)}`)),
        DEFAULT_DEADLINE_MS,
      );
    });
    try {
      await Promise.race([this.closed, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.request.destroy();
  }

  private dispatch(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) {
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') {
        event = value;
      } else if (field === 'data') {
        data.push(value);
      }
    }
    if (data.length > 0) {
      this.events.push({ event, data: JSON.parse(data.join('\n')) });
    }
  }
}

function tokenOf({ event, data }: SseEvent): string {
  switch (event) {
    case 'state':
      return `state:${data.progress}`;
    case 'detail':
      return `detail:${data.details}`;
    case 'end':
      return `end:${data.status_name}:${data.progress}`;
    default:
      return `${event}:${JSON.stringify(data)}`;
  }
}

/** Clients to close after each test, whatever happened. */
const clients = new Set<SseClient>();

function watch(port: number, rid: string): SseClient {
  const client = new SseClient(port, `/bgrs/${rid}/events`);
  clients.add(client);
  return client;
}

function closeClients(): void {
  clients.forEach((client) => client.destroy());
  clients.clear();
}

/** A handler run of `name` with `steps` steps: what its events will be, step by step. */
interface Run {
  name: string;
  steps: number;
  rid: string;
}

/** The tokens the events of step `step` of `run` bring (in either order: two rows, one poll or two). */
function stepTokens(run: Run, step: number): string[] {
  return [`detail:${run.name} step ${step}`, `state:${progressAt(step, run.steps)}`];
}

/**
 * Asserts that `client`'s events are, in this order: the state at `fromStep` (at once), then the detail and state
 * of each later step (the two of a step in any order), then one `end`, finished at 100.00.
 */
function assertSequence(client: SseClient, run: Run, fromStep = 0): void {
  const tokens = client.tokens;
  const expected: string[][] = [[`state:${progressAt(fromStep, run.steps)}`]];
  for (let step = fromStep + 1; step <= run.steps; step++) {
    expected.push(stepTokens(run, step));
  }
  expected.push(['end:finished:100.00']);
  const groups: string[][] = [];
  let at = 0;
  for (const group of expected) {
    groups.push(tokens.slice(at, at + group.length));
    at += group.length;
  }
  const shown = `${run.name} (${run.rid}) from step ${fromStep}: ${JSON.stringify(tokens)}`;
  assert.equal(tokens.length, at, `event count of ${shown}`);
  assert.deepEqual(
    groups.map((group) => [...group].sort()),
    expected.map((group) => [...group].sort()),
    shown,
  );

  // Every event is of this request, in the formats of the README's “Lookup endpoints”.
  for (const { event, data } of client.events) {
    assert.equal(data.rid, run.rid, `${event} of another request in ${shown}`);
    if (event === 'detail') {
      assert.deepEqual(Object.keys(data).sort(), DETAIL_FIELDS, JSON.stringify(data));
      assert.match(data.dt, DATE_PATTERN);
    } else {
      assert.deepEqual(Object.keys(data).sort(), [...RECORD_FIELDS].sort(), JSON.stringify(data));
    }
  }
  const states = client.events.filter(({ event }) => event === 'state');
  for (const { data } of states) {
    assert.equal(data.status_name, 'processing', JSON.stringify(data));
    assert.equal(data.status_id, '3');
    assert.equal(data.finished_dt, null);
  }
  const progress = states.map(({ data }) => Number(data.progress));
  assert.ok(
    progress.every((value, index) => index === 0 || value > progress[index - 1]),
    `progress must rise: ${JSON.stringify(progress)}`,
  );
  const end = client.events.at(-1)!;
  assert.equal(end.event, 'end');
  assert.equal(end.data.status_name, 'finished');
  assert.equal(end.data.status_id, '4');
  assert.equal(end.data.progress, '100.00');
  assert.equal(end.data.status, '200');
  assert.match(end.data.finished_dt, DATE_PATTERN);
  assert.match(end.data.content_type, /^application\/json/);
}

/** The client is a live SSE stream. */
function assertStream(client: SseClient): void {
  assert.equal(client.status, 200, JSON.stringify(client.events));
  assert.match(String(client.headers['content-type']), /^text\/event-stream/);
}

/** The `detail` events of `client` are exactly the request's details rows (all written while it watched). */
async function assertDetailsAreTheRows(client: SseClient, http: HttpClient, rid: string): Promise<void> {
  const sent = client.events.filter(({ event }) => event === 'detail').map(({ data }) => data);
  assert.deepEqual(sent, await detailsOf(http, rid));
}

/**
 * Runs `runs` in lock step: for each step, opens the gates of the runs that have it and waits until every client
 * of each has that step's events; then lets the last steps go and waits for each stream to end and close.
 */
async function driveRuns(runs: Run[], watchers: Map<Run, SseClient[]>, fromStep = 0): Promise<void> {
  const maxSteps = Math.max(...runs.map((run) => run.steps));
  for (let step = fromStep + 1; step <= maxSteps + 1; step++) {
    for (const run of runs.filter((run) => step <= run.steps + 1)) {
      gates.open(`${run.name}:${step - 1}`);
    }
    for (const run of runs) {
      for (const client of watchers.get(run) ?? []) {
        if (step <= run.steps) {
          await client.waitFor(`${run.name} step ${step}`, stepTokens(run, step));
        } else if (step === run.steps + 1) {
          await client.waitUntilClosed(`${run.name} end`);
        }
      }
    }
  }
}

describe('GET /bgrs/:rid/events (Server-Sent Events)', () => {
  describe('on one instance', () => {
    let testApp: TestApp;
    let port: number;

    before(async () => {
      testApp = await startTestApp({
        controllers: [WorkController],
        providers: [instance('solo')],
        bgrs: { progressIntervalMs: 50 },
      });
      port = testApp.port;
    });

    after(async () => {
      gates.openAll();
      closeClients();
      await testApp?.close();
    });

    it('sends the current state at once, a detail per row and a state per progress, then end, and closes', async () => {
      const run: Run = { name: 'solo-a', steps: 3, rid: '' };
      run.rid = await submit(testApp.http, { path: `/work/steps?name=${run.name}&steps=${run.steps}` });
      await waitForStatus(testApp.http, run.rid, 'processing');

      const client = watch(port, run.rid);
      await client.waitFor('the current state at once', ['state:0.00']);
      assertStream(client);
      const [first] = client.events;
      assert.equal(first.event, 'state');
      assert.deepEqual(first.data, await lookup(testApp.http, run.rid), 'the first state is the record as it is now');
      assert.equal(client.isClosed, false);

      await driveRuns([run], new Map([[run, [client]]]));
      assertSequence(client, run);
      assert.deepEqual(client.events.at(-1)!.data, await lookup(testApp.http, run.rid), 'end carries the record');
      await assertDetailsAreTheRows(client, testApp.http, run.rid);
    });

    it('answers end at once for a request that has already finished, and closes', async () => {
      const run: Run = { name: 'solo-done', steps: 1, rid: '' };
      run.rid = await submit(testApp.http, { path: `/work/steps?name=${run.name}&steps=${run.steps}` });
      gates.open(`${run.name}:0`);
      gates.open(`${run.name}:1`);
      const record = await waitForStatus(testApp.http, run.rid, 'finished');

      const client = watch(port, run.rid);
      await client.waitUntilClosed('an ended request');
      assertStream(client);
      assert.deepEqual(client.tokens, ['end:finished:100.00']);
      assert.deepEqual(client.events[0].data, record);
    });

    it('answers a JSON 400 for a malformed rid', async () => {
      const valid = randomBytes(16).toString('hex');
      const malformed = [
        'nope',
        valid.slice(1),
        `${valid}0`,
        valid.toUpperCase(),
        `${valid.slice(2)}zz`,
        encodeURIComponent("' OR 1=1 --"),
      ];
      for (const rid of malformed) {
        const answer = await testApp.http.get(`/bgrs/${rid}/events`).set('Accept', 'text/event-stream');
        assert.equal(answer.status, 400, `${rid}: ${answer.status} ${answer.headers['content-type']} ${answer.text}`);
        assert.match(String(answer.headers['content-type']), /^application\/json/, rid);
        assert.equal(JSON.parse(answer.text).statusCode, 400, rid);
      }
    });

    it('answers a JSON 404 for an unknown rid', async () => {
      const unknown = randomBytes(16).toString('hex');
      const missing = await testApp.http.get(`/bgrs/${unknown}/events`).set('Accept', 'text/event-stream');
      assert.equal(
        missing.status,
        404,
        `${missing.status} ${missing.headers['content-type']} ${JSON.stringify(missing.text)}`,
      );
      assert.match(String(missing.headers['content-type']), /^application\/json/);
      assert.equal(JSON.parse(missing.text).statusCode, 404);
    });

    it('many clients watching the same and different requests each get their whole sequence', async () => {
      const runs: Run[] = [
        { name: 'many-a', steps: 3, rid: '' },
        { name: 'many-b', steps: 2, rid: '' },
        { name: 'many-c', steps: 1, rid: '' },
      ];
      for (const run of runs) {
        run.rid = await submit(testApp.http, { path: `/work/steps?name=${run.name}&steps=${run.steps}` });
      }
      for (const run of runs) {
        await waitForStatus(testApp.http, run.rid, 'processing');
      }
      const [a, b, c] = runs;
      const watchers = new Map<Run, SseClient[]>([
        [a, [watch(port, a.rid), watch(port, a.rid), watch(port, a.rid)]],
        [b, [watch(port, b.rid), watch(port, b.rid)]],
        [c, [watch(port, c.rid)]],
      ]);
      for (const run of runs) {
        for (const client of watchers.get(run)!) {
          await client.waitFor(`${run.name} at once`, ['state:0.00']);
        }
      }

      await driveRuns(runs, watchers);
      for (const run of runs) {
        for (const client of watchers.get(run)!) {
          assertSequence(client, run);
          await assertDetailsAreTheRows(client, testApp.http, run.rid);
        }
      }
    });

    it('a client that joins a running request gets its current progress at once, then the rest', async () => {
      const run: Run = { name: 'late', steps: 3, rid: '' };
      run.rid = await submit(testApp.http, { path: `/work/steps?name=${run.name}&steps=${run.steps}` });
      await waitForStatus(testApp.http, run.rid, 'processing');
      const early = watch(port, run.rid);
      await early.waitFor('the early client at once', ['state:0.00']);
      gates.open(`${run.name}:0`);
      await early.waitFor('step 1', stepTokens(run, 1));
      await eventually('step 1 to be stored', async () =>
        (await lookup(testApp.http, run.rid)).progress === progressAt(1, run.steps) ? true : undefined,
      );

      const late = watch(port, run.rid);
      await late.waitFor('the late client at once', [`state:${progressAt(1, run.steps)}`]);
      await driveRuns([run], new Map([[run, [early, late]]]), 1);
      assertSequence(early, run);
      assertSequence(late, run, 1);
      const rows = await detailsOf(testApp.http, run.rid);
      const lateDetails = late.events.filter(({ event }) => event === 'detail').map(({ data }) => data);
      assert.deepEqual(lateDetails, rows.slice(1), 'the late client gets the rows written after it joined');
    });
  });

  describe('across instances (two apps on one database)', () => {
    let db: TestDatabase;
    let resultDir: string;
    let a: AppOnDatabase;
    let b: AppOnDatabase;

    before(async () => {
      ({ db, resultDir } = await createScratch('bgrs-events-'));
      const options = { url: db.url, resultDir, controllers: [WorkController], bgrs: { progressIntervalMs: 50 } };
      a = await startAppOn({ ...options, providers: [instance('A')] });
      b = await startAppOn({ ...options, providers: [instance('B')] });
    });

    after(async () => {
      gates.openAll();
      closeClients();
      await a?.close();
      await b?.close();
      await disposeScratch(db, resultDir);
    });

    it('a client on B follows a request running on A, through to end', async () => {
      const run: Run = { name: 'across', steps: 3, rid: '' };
      run.rid = await submit(a.http, { path: `/work/steps?name=${run.name}&steps=${run.steps}` });
      await waitForStatus(b.http, run.rid, 'processing');
      assert.equal(ranOn.get(run.name), 'A', 'the handler runs on A');

      const onB = watch(b.port, run.rid);
      const onA = watch(a.port, run.rid);
      await onB.waitFor('the current state at once on B', ['state:0.00']);
      await onA.waitFor('the current state at once on A', ['state:0.00']);
      assertStream(onB);

      await driveRuns([run], new Map([[run, [onB, onA]]]));
      assertSequence(onB, run);
      assertSequence(onA, run);
      assert.deepEqual(onB.events.at(-1)!.data, await lookup(b.http, run.rid));
      await assertDetailsAreTheRows(onB, b.http, run.rid);
    });

    it('B answers end at once for a request that finished on A', async () => {
      const run: Run = { name: 'across-done', steps: 1, rid: '' };
      run.rid = await submit(a.http, { path: `/work/steps?name=${run.name}&steps=${run.steps}` });
      gates.open(`${run.name}:0`);
      gates.open(`${run.name}:1`);
      const record = await waitForStatus(b.http, run.rid, 'finished');
      assert.equal(ranOn.get(run.name), 'A');

      const client = watch(b.port, run.rid);
      await client.waitUntilClosed('an ended request on B');
      assert.deepEqual(client.tokens, ['end:finished:100.00']);
      assert.deepEqual(client.events[0].data, record);
    });
  });
});
