import { Module, type DynamicModule, type NestModule } from '@nestjs/common';
import { ApplicationConfig, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from './bgrs.constants.js';
import { BgrsInterceptor } from './bgrs.interceptor.js';
import { BgrsEventsService } from './bgrs-events.service.js';
import { BgrsLocation } from './bgrs-location.js';
import { BGRS_MODULE_OPTIONS, BGRS_OPTIONS_TYPE, ConfigurableBgrsModule } from './bgrs.module-definition.js';
import { resolveBgrsOptions, type BgrsModuleOptions } from './bgrs-options.interface.js';
import { bgrsResultStoreProvider } from './bgrs-result-store.provider.js';
import { BgrsRecordPresenter } from './bgrs-record.presenter.js';
import { BgrsRequestRepository } from './bgrs-request.repository.js';
import { BgrsRoutesExplorer } from './bgrs-routes.explorer.js';
import { BgrsRunner } from './bgrs-runner.js';
import { takeBgrsParameter } from './bgrs-trigger.js';
import { PlatformCapture } from './capture/platform-capture.js';
import { OutcomeRenderer } from './outcome-renderer.js';
import { LeaseKeeper } from './lease-keeper.service.js';
import { LookupResponder } from './lookup-responder.js';
import { ProgressReporter } from './progress-reporter.service.js';
import { RetentionSweeper } from './retention-sweeper.service.js';
import { VisibleRequests } from './visible-requests.service.js';

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
    bgrsResultStoreProvider,
    BgrsInterceptor,
    BgrsRoutesExplorer,
    BgrsLocation,
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
    private readonly platform: PlatformCapture,
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
