import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  type ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HEADERS_METADATA } from '@nestjs/common/constants.js';
import { ExternalContextCreator, HttpAdapterHost, Reflector } from '@nestjs/core';
import { of, type Observable } from 'rxjs';
import { BGRS_BACKGROUND_CAPABLE, BGRS_OPTIONS, BGRS_PATH } from './bgrs.constants.js';
import { callerIdOf, type ResolvedBgrsOptions } from './bgrs-options.interface.js';
import type { BgrsCallerId } from './caller-id.js';
import { BgrsRequestRepository } from './bgrs-request.repository.js';
import { BgrsRunner } from './bgrs-runner.js';
import { readBgrsTrigger, type BgrsTrigger } from './bgrs-trigger.js';
import { BackgroundRun, backgroundRunStorage } from './background-run.js';
import { PlatformCapture } from './capture/platform-capture.js';
import { HandlerResult } from './handler-result.js';
import { nestContainerOf } from './nest-container.js';
import { ProgressBuffer } from './progress-buffer.js';
import { createRid } from './rid.js';
import { serviceUnavailable } from './service-unavailable.js';
import { trimSlashes } from './trim-slashes.js';

const QUEUE_FULL = 'Too many background requests are waiting; try again shortly.';

/**
 * Turns a request that asks for it into a background request: the route's guards and pipes decide in the
 * foreground, the record is written, the client gets `202 {"request": rid}`, and the handler goes on running.
 */
@Injectable()
export class BgrsInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Bgrs');
  private lookupPathCache: string | undefined;

  constructor(
    private readonly reflector: Reflector,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    @Inject(BGRS_PATH) private readonly path: string,
    private readonly platform: PlatformCapture,
    private readonly repository: BgrsRequestRepository,
    private readonly runner: BgrsRunner,
    private readonly adapterHost: HttpAdapterHost,
    private readonly externalContextCreator: ExternalContextCreator,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    if (context.getType() !== 'http') {
      return next.handle();
    }
    const request = context.switchToHttp().getRequest();
    const prefer = request.headers?.prefer;
    // Most requests ask for nothing; Express parses `query` anew on every read, so look at the raw URL first.
    if (prefer === undefined && !String(request.originalUrl ?? request.url).includes('bgrs')) {
      return next.handle();
    }
    const trigger = readBgrsTrigger(request.query, prefer);
    if (!trigger.background) {
      return next.handle();
    }
    const capable = this.reflector.getAllAndOverride<boolean>(BGRS_BACKGROUND_CAPABLE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!capable) {
      throw new BadRequestException('This route cannot run in the background: send the request without bgrs.');
    }
    const userId = callerIdOf(this.options, request);
    if (this.options.ownerOnly && userId === null) {
      // Nobody could ever read such a request back.
      throw new ForbiddenException('Background requests need a signed-in user here, with an id of at most 255 bytes.');
    }
    if (!this.runner.accepting) {
      throw this.unavailable(context, 'The server is shutting down; try again shortly.');
    }
    if (!this.runner.hasRoom) {
      // Refused before anything is set up for it: a full queue must stay cheap to refuse.
      throw this.unavailable(context, QUEUE_FULL);
    }
    return this.accept(context, next, trigger, userId);
  }

  private async accept(
    context: ExecutionContext,
    next: CallHandler,
    trigger: BgrsTrigger,
    userId: BgrsCallerId | null,
  ): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest();
    const response = context.switchToHttp().getResponse();
    const rid = createRid();
    const routeHeaders = (
      this.reflector.get<Array<{ name: string }>>(HEADERS_METADATA, context.getHandler()) ?? []
    ).map((header) => header.name);
    const snapshot = this.platform.get().snapshot(response, routeHeaders);
    const run = new BackgroundRun(rid, new ProgressBuffer(rid, this.repository, this.options.progressIntervalMs));
    // Bound here, so that the handler and all it calls see the run (ProgressReporter).
    const result = new HandlerResult(backgroundRunStorage.run(run, () => next.handle()));

    const arrived = await Promise.race([run.arrived.then(() => true), result.settled.then(() => false)]);
    if (!arrived) {
      // Refused by a pipe, or answered by an interceptor inside ours: the foreground answer stands.
      return result.toObservable();
    }
    const ticket = this.runner.reserve();
    if (!ticket) {
      run.refuse();
      throw this.unavailable(context, QUEUE_FULL);
    }
    try {
      await this.repository.insert({
        rid,
        userId,
        name: request.originalUrl ?? request.url,
        statusId: ticket.status,
        createdAt: new Date(),
        instanceId: this.runner.instanceId,
      });
    } catch (error) {
      this.runner.withdraw(ticket);
      run.refuse();
      this.logger.error(`Background request not accepted: ${(error as Error).message}`);
      throw this.unavailable(context, 'The background request could not be recorded; try again shortly.');
    }
    this.platform.get().prepareEarlyAnswer(response, routeHeaders, {
      'Content-Type': 'application/json; charset=utf-8',
      Location: `${this.lookupPath}/${rid}`,
      ...(trigger.preferAsync ? { 'Preference-Applied': 'respond-async' } : {}),
    });
    void this.platform
      .get()
      .whenSent(response)
      .then(() => this.runner.start(ticket, { run, result, context, snapshot }));
    return of({ request: rid });
  }

  /** Where the lookup routes are, the app's global prefix included (known once the app is set up). */
  private get lookupPath(): string {
    if (this.lookupPathCache === undefined) {
      const prefix = nestContainerOf(this.externalContextCreator).applicationConfig?.getGlobalPrefix() ?? '';
      const trimmedPrefix = trimSlashes(prefix);
      this.lookupPathCache = trimmedPrefix ? `/${trimmedPrefix}/${this.path}` : `/${this.path}`;
    }
    return this.lookupPathCache;
  }

  private unavailable(context: ExecutionContext, message: string): ServiceUnavailableException {
    return serviceUnavailable(this.adapterHost, context.switchToHttp().getResponse(), message);
  }
}
