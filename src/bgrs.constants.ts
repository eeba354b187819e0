/** Metadata key set by `@BackgroundCapable()` on a route method or controller class. */
export const BGRS_BACKGROUND_CAPABLE = 'bgrs:background-capable';

/** Injection token of the resolved module options (`ResolvedBgrsOptions`). */
export const BGRS_OPTIONS = Symbol('BGRS_OPTIONS');

/** Injection token of the result store (see `BgrsResultStore`). */
export const BGRS_RESULT_STORE = Symbol('BGRS_RESULT_STORE');

/** Injection token of the TypeORM data source the module writes to. */
export const BGRS_DATA_SOURCE = Symbol('BGRS_DATA_SOURCE');

/** Injection token of this process's id, as the holder of leases and the worker of jobs. */
export const BGRS_INSTANCE_ID = Symbol('BGRS_INSTANCE_ID');

export const BGRS_DEFAULT_PATH = 'bgrs';

/** Injection token of the lookup routes' prefix (an extra, fixed when the module is defined). */
export const BGRS_PATH = Symbol('BGRS_PATH');

/** Query values of `bgrs` that ask for a background run, and those that ask for none (README, “Turning a request into a background request”). */
export const BGRS_YES_VALUES = ['yes', '1', 'true'] as const;
export const BGRS_NO_VALUES = ['no', '0', 'false', ''] as const;

/** Status ids as seeded by the migration into `bgrs_statuses` (README, “Tables”). */
export enum BgrsStatusId {
  Created = 1,
  Queued = 2,
  Processing = 3,
  Finished = 4,
  Failed = 5,
  Cancelled = 6,
}

/** Statuses of a request that has not ended, and of one that has. */
export const BGRS_RUNNING_STATUSES = [BgrsStatusId.Created, BgrsStatusId.Queued, BgrsStatusId.Processing];
export const BGRS_ENDED_STATUSES = [BgrsStatusId.Finished, BgrsStatusId.Failed, BgrsStatusId.Cancelled];

export const BGRS_STATUS_NAMES: Readonly<Record<BgrsStatusId, string>> = {
  [BgrsStatusId.Created]: 'created',
  [BgrsStatusId.Queued]: 'queued',
  [BgrsStatusId.Processing]: 'processing',
  [BgrsStatusId.Finished]: 'finished',
  [BgrsStatusId.Failed]: 'failed',
  [BgrsStatusId.Cancelled]: 'cancelled',
};

/** What a 503 answer suggests in `Retry-After`. */
export const BGRS_RETRY_AFTER_SECONDS = 5;

/** Column limits of the schema (README, “Tables”), enforced before writing. */
export const BGRS_NAME_MAX_LENGTH = 2048;
export const BGRS_CONTENT_TYPE_MAX_LENGTH = 255;
export const BGRS_RESULT_MAX_LENGTH = 255;
/** The largest caller id `user_id` (INT UNSIGNED) holds; other ids are kept in `bgrs_owners`. */
export const BGRS_USER_ID_MAX = 0xffffffff;
/** `bgrs_owners.owner` (VARBINARY) holds ids of up to this many bytes of UTF-8. */
export const BGRS_OWNER_MAX_BYTES = 255;
/** TEXT holds 65,535 bytes; longer details are cut on a character boundary. */
export const BGRS_DETAILS_MAX_BYTES = 65_535;
