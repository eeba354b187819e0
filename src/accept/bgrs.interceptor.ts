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
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { of, type Observable } from 'rxjs';
import { BGRS_OPTIONS } from '../bgrs.constants.js';
import { BgrsLocation } from './bgrs-location.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { callerIdOf, type BgrsCallerId } from '../options/caller-id.js';
import { BgrsRequestRepository } from '../persistence/bgrs-request.repository.js';
import { BgrsRoutesExplorer, type BgrsRoute } from './bgrs-routes.explorer.js';
import { BgrsInProcessRunner } from '../run/in-process/bgrs-in-process.runner.js';
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

  constructor(
    private readonly reflector: Reflector,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly routes: BgrsRoutesExplorer,
    private readonly location: BgrsLocation,
    private readonly platform: BgrsPlatformService,
    private readonly repository: BgrsRequestRepository,
    private readonly runner: BgrsInProcessRunner,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    if (context.getType() !== 'http') {
      return next.handle();
    }
    const request = context.switchToHttp().getRequest();
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
    if (!this.runner.hasRoom) {
      // Refused before anything is set up for it: a full queue must stay cheap to refuse.
      throw this.unavailable(context, BGRS_MESSAGES.queueFull);
    }
    return this.accept(context, next, route, trigger, userId);
  }

  private async accept(
    context: ExecutionContext,
    next: CallHandler,
    route: BgrsRoute,
    trigger: BgrsTrigger,
    userId: BgrsCallerId | null,
  ): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest();
    const response = context.switchToHttp().getResponse();
    const rid = createRid();
    const routeHeaders = (
      this.reflector.get<Array<{ name: string }>>(HEADERS_METADATA, context.getHandler()) ?? []
    ).map((header) => header.name);
    const platform = this.platform.get();
    const snapshot = platform.snapshot(response, routeHeaders);
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
      throw this.unavailable(context, BGRS_MESSAGES.queueFull);
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
      throw this.unavailable(context, BGRS_MESSAGES.notRecorded);
    }
    platform.prepareEarlyAnswer(response, routeHeaders, {
      'Content-Type': 'application/json; charset=utf-8',
      Location: this.location.of(rid),
      ...(trigger.preferAsync ? { 'Preference-Applied': 'respond-async' } : {}),
    });
    const { answersItself } = route;
    this.runner.start(ticket, { run, result, context, snapshot, answersItself, answered: platform.whenSent(response) });
    if (!answersItself) {
      return of({ request: rid });
    }
    // Nest would not send a value here: the early answer goes out now, and Nest answers the background run.
    await this.adapterHost.httpAdapter.reply(response, { request: rid }, 202);
    return result.handedOverToNest();
  }

  private unavailable(context: ExecutionContext, message: string): ServiceUnavailableException {
    return serviceUnavailable(this.adapterHost, context.switchToHttp().getResponse(), message);
  }
}
