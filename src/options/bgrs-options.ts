import type { CanActivate, Type } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import type { BgrsResultStore } from '../result-store/bgrs-result-store.interface.js';
import { assertResultDirFits } from '../result-store/file/file-result-store.js';
import { MAX_INLINE_RESULT_BYTES } from '../result-store/inline/inline-result-location.js';

/**
 * Queue mode (`queue` of the module options): background requests are handed to a durable queue (BullMQ on Redis)
 * and run by workers, instances of the same app, wherever they are. Every option but `connection` has a default.
 */
export class BgrsQueueOptions {
  /** How to reach Redis: BullMQ's (ioredis) connection options, e.g. `{ host: '127.0.0.1', port: 6379 }`. */
  connection!: ConnectionOptions;
  /** The queue's name; instances that share it share their requests. */
  name?: string = 'bgrs';
  /** BullMQ's prefix of the queue's Redis keys. */
  prefix?: string = 'bull';
  /** This instance runs queued requests (a worker). An instance may accept requests, run them, or both. */
  worker?: boolean = true;
  /** Handlers a worker runs at once. Default: `maxConcurrent`. */
  concurrency?: number;
  /** How long an acceptance waits for Redis before it answers `503` (ms). */
  enqueueTimeoutMs?: number = 2000;
  /**
   * The largest request body that can be queued (bytes); a larger one is refused with `413`. The request travels to
   * the worker through the module's table `bgrs_jobs` (never through Redis), in one row: keep it well under the
   * database's `max_allowed_packet` (16 MiB by default on MariaDB).
   */
  maxBodyBytes?: number = 8 * 1024 * 1024;
  /** Properties that guards and middleware put on the request, carried to the worker (JSON) and restored there. */
  carry?: string[] = ['user'];
}

/** Queue options with their defaults filled in. */
export type ResolvedBgrsQueueOptions = Required<BgrsQueueOptions>;

/**
 * Options of `BgrsModule.forRoot()`, or what the `useFactory` of `forRootAsync()` returns. Every option is optional;
 * its default stands beside its documentation, and `resolveBgrsOptions` checks what is given.
 */
export class BgrsModuleOptions {
  /** Folder the default store keeps the results in (created when missing). */
  resultDir?: string = 'media';
  /**
   * Where results are kept instead of files in `resultDir`: a `BgrsResultStore`, or its class, which Nest creates
   * with its dependencies (what BgrsModule sees: global providers such as the TypeORM `DataSource`, `BGRS_OPTIONS`,
   * and the providers of `forRootAsync()`'s `imports`). Either way it becomes a provider of BgrsModule, whose
   * lifecycle hooks (`onModuleInit`, `onModuleDestroy`, …) Nest runs. No default: files in `resultDir`.
   */
  resultStore?: BgrsResultStore | Type<BgrsResultStore>;
  /**
   * Results of up to this many bytes, with no headers beyond their Content-Type, are kept in their request's row
   * (`bgrs_requests.result_body`), written by the request's final UPDATE, instead of in the store: most results are
   * small, and a file or an object per result costs more than the request that made it. Any instance serves them,
   * whatever the store. At most 16384; 0 sends every result to the store (for a custom store that must see them all).
   */
  inlineResultBytes?: number = 8192;
  /**
   * The caller's id; `null` or `undefined` when anonymous. A whole number from 0 to 4294967295 (or such a number as
   * a decimal string, `"7"`) is recorded as `user_id`; any other id (a UUID, a name, `"07"`) is kept exactly, up to
   * 255 bytes of UTF-8, in the module's table `bgrs_owners`, with `user_id` NULL. Either kind lists its own requests
   * and passes `ownerOnly`. A longer id counts as no caller.
   */
  userId?: (request: any) => number | string | null | undefined = (request) => request.user?.id ?? null;
  /** Time zone of the dates in the lookup answers: `Z` (UTC) or an offset such as `+02:00`. */
  timezone?: string = 'Z';
  /** Guards the lookup routes run in addition to the app's global guards (classes or instances). */
  guards?: Array<Type<CanActivate> | CanActivate> = [];
  /**
   * How often a running request's progress and details are written, at most (ms). `report()` may be called any
   * number of times in between; the last value always lands. Also the poll interval of live events.
   */
  progressIntervalMs?: number = 500;
  /**
   * How long a running request's lease lasts (ms). Its instance renews it every third of that; when an instance
   * dies, another one (or the same one restarted) fails its requests once the lease is over.
   */
  leaseMs?: number = 30_000;
  /** On `app.close()`, how long running requests may still take to finish (ms). */
  shutdownGraceMs?: number = 30_000;
  /**
   * Background handlers run at once by this instance; further requests wait as `queued`. A request gives its slot
   * up once its result is stored, while its final state is written.
   */
  maxConcurrent?: number = 32;
  /** Requests that may wait as `queued`; beyond that new ones get `503` with `Retry-After`. */
  maxQueued?: number = 1000;
  /** Days a request, its details and its result are kept. */
  retentionDays?: number = 30;
  /** How often the retention sweep runs (ms): hourly. */
  retentionSweepMs?: number = 3_600_000;
  /**
   * Only the user who made a request may look it up (others get `404`). A caller with no id (see `userId`) cannot
   * submit then: `403`.
   */
  ownerOnly?: boolean = false;
  /** Queue mode: see `BgrsQueueOptions`. No default: requests run in the process that accepted them. */
  queue?: BgrsQueueOptions;
}

/** Options fixed when the module is defined, for `forRoot()` and `forRootAsync()` alike. */
export interface BgrsModuleExtras {
  /** Route prefix of the lookup endpoints. Default `bgrs`. */
  path?: string;
  /** Name of the TypeORM data source (as given to `TypeOrmModule.forRoot`). Default: the default one. */
  dataSource?: string;
}

/** The options with their defaults filled in, as the module's providers see them (`BGRS_OPTIONS`). */
export type ResolvedBgrsOptions = Required<Omit<BgrsModuleOptions, 'resultStore' | 'queue'>> & {
  // No default instance: without one, the store is made from `resultDir`.
  resultStore?: BgrsModuleOptions['resultStore'];
  queue?: ResolvedBgrsQueueOptions;
};

/** The longest delay a Node.js timer takes; a longer one fires at once. */
const TIMER_MAX_MS = 2 ** 31 - 1;

const TIMEZONE = /^(?:Z|([+-])(\d{2}):?(\d{2}))$/;

/** The offset of a `timezone` option from UTC, in milliseconds. */
export function timezoneOffsetMs(timezone: string): number {
  const [, sign, hours, minutes] = TIMEZONE.exec(timezone) ?? [];
  return sign ? (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000 : 0;
}

/** What a store must have, checked at start rather than at the first background request. */
const STORE_METHODS = ['create', 'open', 'remove', 'abandon', 'list'] as const;

function describe(value: unknown): string {
  if (typeof value === 'function') {
    return value.name || 'a function';
  }
  if (typeof value === 'object' && value !== null) {
    return value.constructor?.name ?? 'an object';
  }
  return JSON.stringify(value) ?? String(value);
}

type OptionName = keyof BgrsModuleOptions | `queue.${keyof BgrsQueueOptions}`;

function refuse(option: OptionName, expected: string, value: unknown): never {
  throw new Error(`The BgrsModule option ${option} must be ${expected}: got ${describe(value)}.`);
}

function checkInteger(option: OptionName, value: number, min: number, max = TIMER_MAX_MS): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    refuse(option, `a whole number from ${min} to ${max}`, value);
  }
}

/** A store instance, or the prototype of a store class, has the store's methods. */
function checkResultStore(resultStore: unknown): void {
  const store = typeof resultStore === 'function' ? resultStore.prototype : resultStore;
  const missing = STORE_METHODS.filter((method) => typeof store?.[method] !== 'function');
  if (missing.length > 0) {
    throw new Error(
      `The BgrsModule option resultStore must be a BgrsResultStore or its class: ` +
        `${describe(resultStore)} has no ${missing.join(', ')}.`,
    );
  }
}

/** Queue names and prefixes become parts of Redis keys, where `:` separates. */
const KEY_PART = /^[A-Za-z0-9_.-]{1,64}$/;

function resolveQueueOptions(queue: BgrsQueueOptions, maxConcurrent: number): ResolvedBgrsQueueOptions {
  if (typeof queue !== 'object' || queue === null) {
    refuse('queue', 'queue options ({ connection, … })', queue);
  }
  const given = Object.fromEntries(Object.entries(queue).filter(([, value]) => value !== undefined));
  const resolved = { ...new BgrsQueueOptions(), concurrency: maxConcurrent, ...given } as ResolvedBgrsQueueOptions;
  if (typeof resolved.connection !== 'object' || resolved.connection === null) {
    refuse(
      'queue.connection',
      "Redis connection options such as { host: '127.0.0.1', port: 6379 }",
      resolved.connection,
    );
  }
  for (const name of ['name', 'prefix'] as const) {
    if (typeof resolved[name] !== 'string' || !KEY_PART.test(resolved[name])) {
      refuse(`queue.${name}`, 'letters, digits, _ . or - (1 to 64)', resolved[name]);
    }
  }
  if (typeof resolved.worker !== 'boolean') {
    refuse('queue.worker', 'true or false', resolved.worker);
  }
  checkInteger('queue.concurrency', resolved.concurrency, 1, 10_000);
  checkInteger('queue.enqueueTimeoutMs', resolved.enqueueTimeoutMs, 1);
  checkInteger('queue.maxBodyBytes', resolved.maxBodyBytes, 0, 1024 ** 3);
  if (!Array.isArray(resolved.carry) || !resolved.carry.every((name) => typeof name === 'string' && name !== '')) {
    refuse('queue.carry', 'an array of request property names', resolved.carry);
  }
  return resolved;
}

/** Refuses, naming the option, what cannot work: the app would fail later, or misbehave without a word. */
function validate(options: ResolvedBgrsOptions): void {
  if (options.resultStore !== undefined) {
    checkResultStore(options.resultStore);
  } else if (typeof options.resultDir !== 'string' || options.resultDir === '') {
    refuse('resultDir', 'a folder name', options.resultDir);
  } else {
    assertResultDirFits(options.resultDir);
  }
  checkInteger('inlineResultBytes', options.inlineResultBytes, 0, MAX_INLINE_RESULT_BYTES);
  if (typeof options.userId !== 'function') {
    refuse('userId', 'a function of the request', options.userId);
  }
  if (typeof options.timezone !== 'string' || !TIMEZONE.test(options.timezone)) {
    refuse('timezone', '"Z" or an offset like "+02:00"', options.timezone);
  }
  const isGuard = (guard: unknown) =>
    typeof guard === 'function' || typeof (guard as CanActivate | undefined)?.canActivate === 'function';
  if (!Array.isArray(options.guards) || !options.guards.every(isGuard)) {
    refuse('guards', 'an array of guards (classes or instances)', options.guards);
  }
  checkInteger('progressIntervalMs', options.progressIntervalMs, 1);
  // Renewed every third of it.
  checkInteger('leaseMs', options.leaseMs, 3);
  checkInteger('shutdownGraceMs', options.shutdownGraceMs, 0);
  checkInteger('maxConcurrent', options.maxConcurrent, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('maxQueued', options.maxQueued, 0, Number.MAX_SAFE_INTEGER);
  if (typeof options.retentionDays !== 'number' || !(options.retentionDays > 0 && options.retentionDays <= 36_500)) {
    refuse('retentionDays', 'a number of days above 0 (at most 36500)', options.retentionDays);
  }
  checkInteger('retentionSweepMs', options.retentionSweepMs, 1);
  if (typeof options.ownerOnly !== 'boolean') {
    refuse('ownerOnly', 'true or false', options.ownerOnly);
  }
}

/** The options with their defaults; an option that cannot work is refused with an error naming it. */
export function resolveBgrsOptions(options: BgrsModuleOptions): ResolvedBgrsOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const resolved = { ...new BgrsModuleOptions(), ...given } as ResolvedBgrsOptions;
  validate(resolved);
  if (options.queue !== undefined) {
    resolved.queue = resolveQueueOptions(options.queue, resolved.maxConcurrent);
  }
  return resolved;
}
