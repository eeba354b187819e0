import type { CanActivate, Type } from '@nestjs/common';

/** Options of `BgrsModule.forRoot()`, or what the `useFactory` of `forRootAsync()` returns. */
export interface BgrsModuleOptions {
  /** Folder the results are stored in (created when missing). Default `media`. */
  resultDir?: string;
  /** The caller's numeric id for `user_id`; `null` when anonymous. Default `req => req.user?.id ?? null`. */
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
}

/** Options fixed when the module is defined, for `forRoot()` and `forRootAsync()` alike. */
export interface BgrsModuleExtras {
  /** Route prefix of the lookup endpoints. Default `bgrs`. */
  path?: string;
  /** Name of the TypeORM data source (as given to `TypeOrmModule.forRoot`). Default: the default one. */
  dataSource?: string;
}

/** The options with their defaults filled in, as the module's providers see them. */
export type ResolvedBgrsOptions = Required<BgrsModuleOptions>;

export function resolveBgrsOptions(options: BgrsModuleOptions): ResolvedBgrsOptions {
  return {
    resultDir: 'media',
    userId: (request) => request.user?.id ?? null,
    timezone: 'Z',
    guards: [],
    progressIntervalMs: 500,
    ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
  };
}
