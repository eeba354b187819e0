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
import { HttpAdapterHost } from '@nestjs/core';
import { Writable } from 'node:stream';
import { of, type Observable } from 'rxjs';
import { BGRS_OPTIONS } from '../bgrs.constants.js';
import { BgrsLocation } from './bgrs-location.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { callerIdOf, type BgrsCallerId } from '../options/caller-id.js';
import { BgrsRequestRepository } from '../persistence/bgrs-request.repository.js';
import { BgrsRoutesExplorer, type BgrsRoute } from './bgrs-routes.explorer.js';
import { BgrsInProcessRunner, type RunTicket } from '../run/in-process/bgrs-in-process.runner.js';
import { BgrsQueueRunner, QueueUnavailableError, type QueuedRequest } from '../run/queue/bgrs-queue.runner.js';
import { replayOf, type Replay } from '../run/queue/replay-guards.js';
import { bgrsParameterOf, readBgrsTrigger, type BgrsTrigger } from './bgrs-trigger.js';
import { BackgroundRun, backgroundRunStorage } from './background-run.js';
import { BgrsPlatformService } from '../platform/bgrs-platform.service.js';
import { HandlerResult } from './handler-result.js';
import { ProgressBuffer } from '../progress/progress-buffer.js';
import { createRid } from '../util/rid.js';
import { serviceUnavailable } from '../util/service-unavailable.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/**
 * Turns a request that asks for it into a background request: the route's guards and pipes decide in the
 * foreground, the record is written, the client gets `202 {"request": rid}`, and the handler goes on running.
 * It runs outermost of all interceptors (see `BgrsModule.configure`), so that the host's own global ones shape the
 * background result, as they shape the foreground answer, and never the early answer.
 */
@Injectable()
export class BgrsInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Bgrs');
  /** Only a queue worker replays requests through its own app; elsewhere no request can be one. */
  private readonly replays: boolean;

  constructor(
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly routes: BgrsRoutesExplorer,
    private readonly location: BgrsLocation,
    private readonly platform: BgrsPlatformService,
    private readonly repository: BgrsRequestRepository,
    private readonly runner: BgrsInProcessRunner,
    private readonly queue: BgrsQueueRunner,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.replays = options.queue?.worker === true;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    if (context.getType() !== 'http') {
      return next.handle();
    }
    const request = context.switchToHttp().getRequest();
    // Every request of the host passes here: not even a look for the marker where there can be none (bench row 1).
    const replay = this.replays ? replayOf(request) : undefined;
    if (replay) {
      return this.replay(request, replay, next);
    }
    const parameter = bgrsParameterOf(request);
    const prefer = request.headers?.prefer;
    // Most requests ask for nothing.
    if (parameter === undefined && prefer === undefined) {
      return next.handle();
    }
    const trigger = readBgrsTrigger(parameter, prefer);
    if (!trigger.background) {
      return next.handle();
    }
    const route = this.routes.routeOf(context.getHandler());
    if (!route) {
      if (!trigger.explicit) {
        // A preference is a hint: a server ignores what it cannot do (RFC 7240).
        return next.handle();
      }
      throw new BadRequestException(BGRS_MESSAGES.notCapable);
    }
    const userId = callerIdOf(this.options, request);
    if (this.options.ownerOnly && userId === null) {
      // Nobody could ever read such a request back.
      throw new ForbiddenException(BGRS_MESSAGES.ownerRequired);
    }
    if (!this.runner.accepting) {
      throw this.unavailable(context, BGRS_MESSAGES.shuttingDown);
    }
    const queued = route.queue && this.queue.enabled;
    if (!(queued ? this.queue.hasRoom : this.runner.hasRoom)) {
      // Refused before anything is set up for it: a full queue must stay cheap to refuse.
      throw this.unavailable(context, BGRS_MESSAGES.queueFull);
    }
    return this.accept(context, next, route, trigger, userId, queued);
  }

  /**
   * A request a queue worker replays: its run is bound to the async context, and the request gets back what the
   * guards put on it at acceptance (they do not decide again); Nest answers it as in the foreground.
   */
  private replay(request: Record<string, unknown>, { run, carried }: Replay, next: CallHandler): Observable<unknown> {
    Object.assign(request, carried);
    return backgroundRunStorage.run(run, () => next.handle());
  }

  private async accept(
    context: ExecutionContext,
    next: CallHandler,
    route: BgrsRoute,
    trigger: BgrsTrigger,
    userId: BgrsCallerId | null,
    queued: boolean,
  ): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest();
    const response = context.switchToHttp().getResponse();
    const rid = createRid();
    const platform = this.platform.get();
    const snapshot = platform.snapshot(response, route.headers);
    const run = new BackgroundRun(rid, new ProgressBuffer(rid, this.repository, this.options.progressIntervalMs));
    // Bound here, so that the handler and all it calls see the run (ProgressReporter).
    const result = new HandlerResult(backgroundRunStorage.run(run, () => next.handle()));

    const arrived = await new Promise<boolean>((decide) => {
      run.onArrival(() => decide(true));
      result.onSettled(() => decide(false));
    });
    if (!arrived) {
      // Refused by a pipe, or answered by an interceptor inside ours: the foreground answer stands.
      return result.toObservable();
    }
    const name = request.originalUrl ?? request.url;
    const ticket = queued
      ? await this.submit(context, run, { rid, userId, name, request, rerun: route.rerun })
      : await this.record(context, run, { rid, userId, name });
    platform.prepareEarlyAnswer(response, route.headers, {
      'Content-Type': 'application/json; charset=utf-8',
      Location: this.location.of(rid),
      ...(trigger.preferAsync ? { 'Preference-Applied': 'respond-async' } : {}),
    });
    const { answersItself } = route;
    const answered = platform.whenSent(response);
    if (ticket) {
      this.runner.start(ticket, { run, result, context, snapshot, answersItself, answered });
    }
    if (!answersItself) {
      return of({ request: rid });
    }
    // Nest would not send a value here: the early answer goes out now.
    await this.adapterHost.httpAdapter.reply(response, { request: rid }, 202);
    if (ticket) {
      // Nest answers the background run, from its outcome.
      return result.handedOverToNest();
    }
    // The run is a worker's: whatever Nest still writes here (a redirect, a template) goes nowhere.
    await answered;
    platform.record(response, snapshot, new Writable({ write: (_chunk, _encoding, done) => done() })).close();
    return of(undefined);
  }

  /** In-process: takes a run slot (or a place in the queue) and records the request with its lease. */
  private async record(
    context: ExecutionContext,
    run: BackgroundRun,
    request: { rid: string; userId: BgrsCallerId | null; name: string },
  ): Promise<RunTicket> {
    const ticket = this.runner.reserve();
    if (!ticket) {
      run.refuse();
      throw this.unavailable(context, BGRS_MESSAGES.queueFull);
    }
    try {
      await this.repository.insert({
        ...request,
        statusId: ticket.status,
        createdAt: new Date(),
        instanceId: this.runner.instanceId,
      });
    } catch (error) {
      this.runner.withdraw(ticket);
      run.refuse();
      this.logger.error(`Background request not accepted: ${(error as Error).message}`);
      throw this.unavailable(context, BGRS_MESSAGES.notRecorded);
    }
    return ticket;
  }

  /** Queue mode: the handler runs on a worker, so it is let go here without running; the request is queued. */
  private async submit(context: ExecutionContext, run: BackgroundRun, request: QueuedRequest): Promise<undefined> {
    run.refuse();
    try {
      await this.queue.submit(request);
    } catch (error) {
      if (error instanceof QueueUnavailableError) {
        if (error.what === 'full') {
          throw this.unavailable(context, BGRS_MESSAGES.queueFull);
        }
        this.logger.error(`Background request not accepted: ${(error.cause as Error).message}`);
        throw this.unavailable(
          context,
          error.what === 'record' ? BGRS_MESSAGES.notRecorded : BGRS_MESSAGES.queueUnavailable,
        );
      }
      throw error;
    }
    return undefined;
  }

  private unavailable(context: ExecutionContext, message: string): ServiceUnavailableException {
    return serviceUnavailable(this.adapterHost, context.switchToHttp().getResponse(), message);
  }
}
