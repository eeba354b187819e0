export { BackgroundCapable } from './background-capable.decorator.js';
export { BGRS_OPTIONS, BGRS_RESULT_STORE, BgrsStatusId } from './bgrs.constants.js';
export { BgrsController } from './bgrs.controller.js';
export { BgrsModule } from './bgrs.module.js';
export type { BgrsModuleExtras, BgrsModuleOptions, ResolvedBgrsOptions } from './bgrs-options.interface.js';
export type { BgrsCallerId } from './caller-id.js';
export type { BgrsDetailView, BgrsRequestView } from './bgrs-record.presenter.js';
export {
  BgrsDetail,
  BgrsOwner,
  BgrsRequest,
  BgrsResult,
  BgrsResultChunk,
  BgrsStatus,
  bgrsEntities,
} from './entities/index.js';
export { bgrsMigrations, CreateBgrsResults1764320000003, CreateBgrsTables1764320000000 } from './migrations/index.js';
export { ProgressReporter } from './progress-reporter.service.js';
export type {
  BgrsResultHeaders,
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from './result-store/bgrs-result-store.interface.js';
export { DatabaseResultStore } from './result-store/database/database-result-store.js';
export { FileResultStore } from './result-store/file-result-store.js';
export { S3_CLIENT_DEFAULTS } from './result-store/s3/s3-client.js';
export { S3ResultStore, type S3ResultStoreOptions } from './result-store/s3/s3-result-store.js';
