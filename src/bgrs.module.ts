import { Module, type DynamicModule, type NestModule } from '@nestjs/common';
import { ApplicationConfig, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { BGRS_INSTANCE_ID, BGRS_OPTIONS, BGRS_RESULT_STORE } from './bgrs.constants.js';
import { BgrsInterceptor } from './accept/bgrs.interceptor.js';
import { BgrsEventsService } from './lookup/bgrs-events.service.js';
import { BgrsLocation } from './accept/bgrs-location.js';
import { BGRS_MODULE_OPTIONS, BGRS_OPTIONS_TYPE, ConfigurableBgrsModule } from './bgrs.module-definition.js';
import { resolveBgrsOptions, type BgrsModuleOptions } from './options/bgrs-options.js';
import { BgrsResults } from './result-store/bgrs-results.service.js';
import { bgrsResultStoreProvider } from './result-store/bgrs-result-store.provider.js';
import { BgrsRecordPresenter } from './lookup/bgrs-record.presenter.js';
import { BgrsJobRepository } from './persistence/bgrs-job.repository.js';
import { BgrsLeaseRepository } from './persistence/bgrs-lease.repository.js';
import { BgrsRequestRepository } from './persistence/bgrs-request.repository.js';
import { BgrsRoutesExplorer } from './accept/bgrs-routes.explorer.js';
import { BgrsInProcessRunner } from './run/in-process/bgrs-in-process.runner.js';
import { takeBgrsParameter } from './accept/bgrs-trigger.js';
import { BgrsPlatformService } from './platform/bgrs-platform.service.js';
import { BgrsOutcomeRenderer } from './run/bgrs-outcome-renderer.service.js';
import { BgrsRunCompletion } from './run/bgrs-run-completion.service.js';
import { BgrsQueueReconciler } from './run/queue/bgrs-queue-reconciler.service.js';
import { BgrsQueueRunner } from './run/queue/bgrs-queue.runner.js';
import { BgrsQueueService } from './run/queue/bgrs-queue.service.js';
import { BgrsQueueWorker } from './run/queue/bgrs-queue.worker.js';
import { BgrsRequestReplayer } from './run/queue/request-replay.js';
import { createRid } from './util/rid.js';
import { BgrsLeaseKeeper } from './run/bgrs-lease-keeper.service.js';
import { BgrsLookupResponder } from './lookup/bgrs-lookup-responder.service.js';
import { ProgressReporter } from './progress/progress-reporter.service.js';
import { BgrsRetentionSweeper } from './persistence/bgrs-retention-sweeper.service.js';
import { BgrsVisibleRequests } from './lookup/bgrs-visible-requests.service.js';

/** The HTTP servers `bgrs` is already taken out of queries on (a testing module may create several apps). */
const appsSeen = new WeakSet<object>();

/**
 * Lets any route marked `@BackgroundCapable()` run in the background on `?bgrs=yes`, and serves the lookup
 * endpoints. Import it once with `forRoot()` or `forRootAsync()`; it is global, so `ProgressReporter` can be
 * injected anywhere.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: BGRS_OPTIONS,
      inject: [BGRS_MODULE_OPTIONS],
      useFactory: (options: BgrsModuleOptions) => resolveBgrsOptions(options),
    },
    { provide: BGRS_INSTANCE_ID, useFactory: createRid },
    bgrsResultStoreProvider,
    BgrsResults,
    BgrsInterceptor,
    BgrsRoutesExplorer,
    BgrsLocation,
    BgrsRequestRepository,
    BgrsLeaseRepository,
    BgrsJobRepository,
    BgrsRecordPresenter,
    BgrsInProcessRunner,
    BgrsQueueService,
    BgrsQueueRunner,
    BgrsQueueWorker,
    BgrsQueueReconciler,
    BgrsRequestReplayer,
    BgrsRunCompletion,
    BgrsOutcomeRenderer,
    BgrsPlatformService,
    BgrsLeaseKeeper,
    BgrsEventsService,
    BgrsVisibleRequests,
    BgrsLookupResponder,
    BgrsRetentionSweeper,
    ProgressReporter,
  ],
  exports: [ProgressReporter, BGRS_RESULT_STORE],
})
export class BgrsModule extends ConfigurableBgrsModule implements NestModule {
  /** Options given here are checked at once, before the app connects to anything. */
  static override forRoot(options: typeof BGRS_OPTIONS_TYPE): DynamicModule {
    resolveBgrsOptions(options);
    return super.forRoot(options);
  }

  constructor(
    private readonly routes: BgrsRoutesExplorer,
    private readonly interceptor: BgrsInterceptor,
    private readonly config: ApplicationConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly platform: BgrsPlatformService,
  ) {
    super();
  }

  /**
   * Nest calls this while it sets the app up, right before it registers the routes, which is when it reads their
   * handlers and the global interceptors; no public hook comes later. So the capable handlers are held at their
   * door here, and the module's interceptor goes first among the global ones, wherever and in whatever order the
   * host registered its own (`APP_INTERCEPTOR` in any module, `app.useGlobalInterceptors()`): they then shape the
   * background result as they shape a foreground answer, and never the early answer.
   */
  configure(): void {
    this.routes.holdCapableRoutes();
    const interceptors = this.config.getGlobalInterceptors();
    const index = interceptors.indexOf(this.interceptor);
    if (index !== 0) {
      if (index > 0) {
        interceptors.splice(index, 1);
      }
      interceptors.unshift(this.interceptor);
    }
    const app = this.adapterHost.httpAdapter.getInstance();
    if (!appsSeen.has(app)) {
      appsSeen.add(app);
      this.platform.get().beforeRouting(app, takeBgrsParameter);
    }
  }
}
