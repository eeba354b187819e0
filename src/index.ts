export { BackgroundCapable } from './accept/background-capable.decorator.js';
export { BGRS_OPTIONS, BGRS_RESULT_STORE, BgrsStatusId } from './bgrs.constants.js';
export { BgrsController } from './lookup/bgrs.controller.js';
export { BgrsModule } from './bgrs.module.js';
export type { BgrsModuleExtras, BgrsModuleOptions, ResolvedBgrsOptions } from './options/bgrs-options.js';
export type { BgrsCallerId } from './options/caller-id.js';
export type { BgrsDetailView, BgrsRequestView } from './lookup/bgrs-record.presenter.js';
export {
  BgrsDetail,
  BgrsOwner,
  BgrsRequest,
  BgrsResult,
  BgrsResultChunk,
  BgrsStatus,
  bgrsEntities,
} from './persistence/entities/index.js';
export {
  bgrsMigrations,
  CreateBgrsResults1764320000003,
  CreateBgrsTables1764320000000,
} from './persistence/migrations/index.js';
export { ProgressReporter } from './progress/progress-reporter.service.js';
export type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from './result-store/bgrs-result-store.interface.js';
export { DatabaseResultStore } from './result-store/database/database-result-store.js';
export { FileResultStore } from './result-store/file/file-result-store.js';
export { S3_CLIENT_DEFAULTS } from './result-store/s3/s3-client.js';
export { S3ResultStore, type S3ResultStoreOptions } from './result-store/s3/s3-result-store.js';
