// The module and what a controller uses.
export { BgrsModule } from './bgrs.module.js';
export { BackgroundCapable, type BackgroundCapableOptions } from './accept/background-capable.decorator.js';
export { ProgressReporter } from './progress/progress-reporter.service.js';

// Options, and the tokens a host's own providers (a result store class) may inject.
export type {
  BgrsModuleExtras,
  BgrsModuleOptions,
  BgrsQueueOptions,
  ResolvedBgrsOptions,
  ResolvedBgrsQueueOptions,
} from './options/bgrs-options.js';
export type { BgrsCallerId } from './options/caller-id.js';
export { BGRS_OPTIONS, BGRS_RESULT_STORE, BgrsStatusId } from './bgrs.constants.js';

// What the lookup endpoints answer.
export type { BgrsDetailView, BgrsRequestView } from './lookup/bgrs-record.presenter.js';

// The tables: every entity and migration a host registers with its data source.
export {
  BgrsDetail,
  BgrsInstance,
  BgrsJob,
  BgrsLease,
  BgrsOwner,
  BgrsRequest,
  BgrsResult,
  BgrsResultChunk,
  BgrsStatus,
  bgrsEntities,
} from './persistence/entities/index.js';
export {
  bgrsMigrations,
  CreateBgrsJobs1764320000004,
  AddBgrsInlineResults1764320000005,
  CreateBgrsLeases1764320000001,
  CreateBgrsOwners1764320000002,
  CreateBgrsResults1764320000003,
  CreateBgrsTables1764320000000,
} from './persistence/migrations/index.js';

// Result stores: the interface a store implements, and the three the module ships.
export type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from './result-store/bgrs-result-store.interface.js';
export { FileResultStore } from './result-store/file/file-result-store.js';
export { DatabaseResultStore } from './result-store/database/database-result-store.js';
export { S3_CLIENT_DEFAULTS } from './result-store/s3/s3-client.js';
export { S3ResultStore, type S3ResultStoreOptions } from './result-store/s3/s3-result-store.js';
