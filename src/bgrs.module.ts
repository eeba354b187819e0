import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from './bgrs.constants.js';
import { BgrsInterceptor } from './bgrs.interceptor.js';
import { BgrsEventsService } from './bgrs-events.service.js';
import { BGRS_MODULE_OPTIONS, ConfigurableBgrsModule } from './bgrs.module-definition.js';
import { resolveBgrsOptions, type BgrsModuleOptions } from './bgrs-options.interface.js';
import { bgrsResultStoreProvider } from './bgrs-result-store.provider.js';
import { BgrsRecordPresenter } from './bgrs-record.presenter.js';
import { BgrsRequestRepository } from './bgrs-request.repository.js';
import { BgrsRunner } from './bgrs-runner.js';
import { PlatformCapture } from './capture/platform-capture.js';
import { OutcomeRenderer } from './outcome-renderer.js';
import { LeaseKeeper } from './lease-keeper.service.js';
import { LookupResponder } from './lookup-responder.js';
import { ProgressReporter } from './progress-reporter.service.js';
import { RetentionSweeper } from './retention-sweeper.service.js';
import { VisibleRequests } from './visible-requests.service.js';

/**
 * Lets any route marked `@BackgroundCapable()` run in the background on `?bgrs=yes`, and serves the lookup
 * endpoints. Import it once with `forRoot()` or `forRootAsync()`; it is global, so `ProgressReporter` can be
 * injected anywhere.
 */
@Module({
  providers: [
    {
      provide: BGRS_OPTIONS,
      inject: [BGRS_MODULE_OPTIONS],
      useFactory: (options: BgrsModuleOptions) => resolveBgrsOptions(options),
    },
    bgrsResultStoreProvider,
    { provide: APP_INTERCEPTOR, useClass: BgrsInterceptor },
    BgrsRequestRepository,
    BgrsRecordPresenter,
    BgrsRunner,
    OutcomeRenderer,
    PlatformCapture,
    LeaseKeeper,
    BgrsEventsService,
    VisibleRequests,
    LookupResponder,
    RetentionSweeper,
    ProgressReporter,
  ],
  exports: [ProgressReporter, BGRS_RESULT_STORE],
})
export class BgrsModule extends ConfigurableBgrsModule {}
