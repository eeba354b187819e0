import type { CanActivate, Type } from '@nestjs/common';
import { toCallerId, type BgrsCallerId } from './caller-id.js';
import type { BgrsResultStore } from '../result-store/bgrs-result-store.interface.js';

/** Options of `BgrsModule.forRoot()`, or what the `useFactory` of `forRootAsync()` returns. */
export interface BgrsModuleOptions {
  /** Folder the default store keeps the results in (created when missing). Default `media`. */
  resultDir?: string;
  /**
   * Where results are kept instead of files in `resultDir`: a `BgrsResultStore`, or its class, which Nest creates
   * with its dependencies (what BgrsModule sees: global providers such as the TypeORM `DataSource`, `BGRS_OPTIONS`,
   * and the providers of `forRootAsync()`'s `imports`). Either way it becomes a provider of BgrsModule, whose
   * lifecycle hooks (`onModuleInit`, `onModuleDestroy`, …) Nest runs.
   */
  resultStore?: BgrsResultStore | Type<BgrsResultStore>;
  /**
   * The caller's id; `null` or `undefined` when anonymous. Default `req => req.user?.id ?? null`. A whole number
   * from 0 to 4294967295 (or such a number as a decimal string, `"7"`) is recorded as `user_id`; any other id (a
   * UUID, a name, `"07"`) is kept exactly, up to 255 bytes of UTF-8, in the module's table `bgrs_owners`, with
   * `user_id` NULL. Either kind lists its own requests and passes `ownerOnly`. A longer id counts as no caller.
   */
  userId?: (request: any) => number | string | null | undefined;
  /** Time zone of the dates in the lookup answers: `Z` (UTC) or an offset such as `+02:00`. Default `Z`. */
  timezone?: string;
  /** Guards the lookup routes run in addition to the app's global guards (classes or instances). */
  guards?: Array<Type<CanActivate> | CanActivate>;
  /**
   * How often a running request's progress and details are written, at most (ms). `report()` may be
   * called any number of times in between; the last value always lands. Default 500.
   */
  progressIntervalMs?: number;
  /**
   * How long a running request's lease lasts (ms). Its instance renews it every third of that; when an instance
   * dies, another one (or the same one restarted) fails its requests once the lease is over. Default 30000.
   */
  leaseMs?: number;
  /** On `app.close()`, how long running requests may still take to finish (ms). Default 30000. */
  shutdownGraceMs?: number;
  /**
   * Background handlers run at once by this instance; further requests wait as `queued`. A request gives its slot
   * up once its result is stored, while its final state is written. Default 32.
   */
  maxConcurrent?: number;
  /** Requests that may wait as `queued`; beyond that new ones get `503` with `Retry-After`. Default 1000. */
  maxQueued?: number;
  /** Days a request, its details and its result are kept. Default 30. */
  retentionDays?: number;
  /** How often the retention sweep runs (ms). Default 3600000 (hourly). */
  retentionSweepMs?: number;
  /**
   * Only the user who made a request may look it up (others get `404`). A caller with no id (see `userId`) cannot
   * submit then: `403`. Default false.
   */
  ownerOnly?: boolean;
}

/** Options fixed when the module is defined, for `forRoot()` and `forRootAsync()` alike. */
export interface BgrsModuleExtras {
  /** Route prefix of the lookup endpoints. Default `bgrs`. */
  path?: string;
  /** Name of the TypeORM data source (as given to `TypeOrmModule.forRoot`). Default: the default one. */
  dataSource?: string;
}

/** The options with their defaults filled in, as the module's providers see them (`BGRS_OPTIONS`). */
export type ResolvedBgrsOptions = Required<Omit<BgrsModuleOptions, 'resultStore'>> &
  // No default instance: without one, the store is made from `resultDir`.
  Pick<BgrsModuleOptions, 'resultStore'>;

/** The caller of a request as the tables keep it (see `toCallerId`), or null for none. */
export function callerIdOf(options: ResolvedBgrsOptions, request: unknown): BgrsCallerId | null {
  return toCallerId(options.userId(request));
}

/** What a store must have, checked at start rather than at the first background request. */
const STORE_METHODS = ['create', 'open', 'remove', 'abandon', 'list'] as const;

/** A store instance, or the prototype of a store class, has the store's methods. */
function assertResultStore(resultStore: unknown): void {
  const store = typeof resultStore === 'function' ? resultStore.prototype : resultStore;
  const missing = STORE_METHODS.filter((method) => typeof store?.[method] !== 'function');
  if (missing.length > 0) {
    const what =
      typeof resultStore === 'function'
        ? resultStore.name || 'a class'
        : typeof resultStore === 'object' && resultStore !== null
          ? (resultStore.constructor?.name ?? 'an object')
          : JSON.stringify(resultStore);
    throw new Error(
      `The BgrsModule option resultStore must be a BgrsResultStore or its class: ${what} has no ${missing.join(', ')}.`,
    );
  }
}

/** The options with their defaults; an option that cannot work is refused with an error naming it. */
export function resolveBgrsOptions(options: BgrsModuleOptions): ResolvedBgrsOptions {
  if (options.resultStore !== undefined) {
    assertResultStore(options.resultStore);
  }
  return {
    resultDir: 'media',
    userId: (request) => request.user?.id ?? null,
    timezone: 'Z',
    guards: [],
    progressIntervalMs: 500,
    leaseMs: 30_000,
    shutdownGraceMs: 30_000,
    maxConcurrent: 32,
    maxQueued: 1000,
    retentionDays: 30,
    retentionSweepMs: 3_600_000,
    ownerOnly: false,
    ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
  };
}
