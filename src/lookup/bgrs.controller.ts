import {
  ConflictException,
  Controller,
  Delete,
  Get,
  Header,
  GoneException,
  Inject,
  BadRequestException,
  Param,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { BGRS_DEFAULT_PATH, BGRS_OPTIONS, BGRS_STATUS_NAMES, BgrsStatusId } from '../bgrs.constants.js';
import { BgrsEventsService } from './bgrs-events.service.js';
import { ApiBgrsLookup, ApiBgrsTags } from '../openapi/bgrs-openapi.decorators.js';
import { BgrsAccessGuard } from './bgrs-access.guard.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { callerIdOf } from '../options/caller-id.js';
import { BgrsPlatformService } from '../platform/bgrs-platform.service.js';
import { BgrsRecordPresenter } from './bgrs-record.presenter.js';
import { BgrsRequestRepository } from '../persistence/bgrs-request.repository.js';
import { BgrsInProcessRunner } from '../run/in-process/bgrs-in-process.runner.js';
import { BgrsQueueService } from '../run/queue/bgrs-queue.service.js';
import { BgrsQueueWorker } from '../run/queue/bgrs-queue.worker.js';
import type { BgrsRequest } from '../persistence/entities/bgrs-request.entity.js';
import { mappingLookupErrors } from './bgrs-lookup-errors.js';
import { BgrsLookupResponder } from './bgrs-lookup-responder.service.js';
import { BgrsParseRidPipe } from './bgrs-parse-rid.pipe.js';
import { BgrsVisibleRequests } from './bgrs-visible-requests.service.js';
import { WATCHED_REQUEST, BgrsWatchedRequestGuard } from './bgrs-watched-request.guard.js';
import { BgrsResults } from '../result-store/bgrs-results.service.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;
/** The largest `id` (INT UNSIGNED). */
const MAX_ID = 0xffffffff;

/** Statuses whose answer has no body, so no Content-Length either. */
const BODILESS_STATUSES = new Set([204, 304]);

/**
 * The lookup endpoints of background requests (README, “Lookup endpoints”). The prefix is the module's `path` option. Answers that
 * change while a request runs are sent with `Cache-Control: no-store`. Every handler answers through the response
 * itself (`BgrsLookupResponder`), so that the host's global interceptors cannot reshape the format.
 */
@Controller(BGRS_DEFAULT_PATH)
@UseGuards(BgrsAccessGuard)
@ApiBgrsTags()
export class BgrsController {
  constructor(
    private readonly repository: BgrsRequestRepository,
    private readonly runner: BgrsInProcessRunner,
    private readonly worker: BgrsQueueWorker,
    private readonly queue: BgrsQueueService,
    private readonly events: BgrsEventsService,
    private readonly visible: BgrsVisibleRequests,
    private readonly platform: BgrsPlatformService,
    private readonly results: BgrsResults,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly presenter: BgrsRecordPresenter,
    private readonly respond: BgrsLookupResponder,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /**
   * The caller's own requests, newest first: `status` filters by status name, `limit` (1–100, default 20) sizes
   * the page, and `before` (the `id` of the last one seen) pages on.
   */
  @Get()
  @ApiBgrsLookup("The caller's background requests, newest first", 'records')
  @Header('Cache-Control', 'no-store')
  findMine(
    @Req() caller: unknown,
    @Res() response: unknown,
    @Query('status') status?: string,
    @Query('limit') limit?: string,
    @Query('before') before?: string,
  ): Promise<void> {
    return mappingLookupErrors(response, this.adapterHost, async () => {
      const userId = callerIdOf(this.options, caller);
      const page = {
        statusId: status === undefined ? undefined : this.statusIdOf(status),
        limit: limit === undefined ? DEFAULT_PAGE : this.integerIn('limit', limit, 1, MAX_PAGE),
        beforeId: before === undefined ? undefined : this.integerIn('before', before, 1, MAX_ID),
      };
      // An anonymous caller owns nothing it could be shown.
      const requests = userId === null ? [] : await this.repository.findByUser(userId, page);
      this.respond.json(
        response,
        requests.map((request) => this.presenter.request(request)),
      );
    });
  }

  /** The record of a background request, joined with its status name. */
  @Get(':rid')
  @ApiBgrsLookup('A background request', 'record')
  @Header('Cache-Control', 'no-store')
  findOne(
    @Param('rid', BgrsParseRidPipe) rid: string,
    @Req() caller: unknown,
    @Res() response: unknown,
  ): Promise<void> {
    return mappingLookupErrors(response, this.adapterHost, async () => {
      this.respond.json(response, [this.presenter.request(await this.visible.find(rid, caller))]);
    });
  }

  /** Its progress messages, oldest first. */
  @Get(':rid/details')
  @ApiBgrsLookup('Progress messages of a background request', 'details')
  @Header('Cache-Control', 'no-store')
  findDetails(
    @Param('rid', BgrsParseRidPipe) rid: string,
    @Req() caller: unknown,
    @Res() response: unknown,
  ): Promise<void> {
    return mappingLookupErrors(response, this.adapterHost, async () => {
      await this.visible.find(rid, caller);
      const details = await this.repository.findDetails(rid);
      this.respond.json(
        response,
        details.map((detail) => this.presenter.detail(detail)),
      );
    });
  }

  /**
   * Live progress as Server-Sent Events: `state`, `detail` and a final `end` (see `BgrsEventsService`). Not an
   * `@Sse()` route: Nest passes each event of one through the host's interceptors, which could rename or wrap it.
   */
  @Get(':rid/events')
  @ApiBgrsLookup('Live progress of a background request', 'events')
  @UseGuards(BgrsWatchedRequestGuard)
  watch(@Req() caller: { [WATCHED_REQUEST]: BgrsRequest }, @Res() response: unknown): Promise<void> {
    return mappingLookupErrors(response, this.adapterHost, async () => {
      await this.respond.events(caller, response, await this.events.watch(caller[WATCHED_REQUEST]));
    });
  }

  /** The original response, replayed: its status, Content-Type, headers and bytes, from its row or the store. */
  @Get(':rid/result')
  @ApiBgrsLookup('The result of a background request', 'result')
  findResult(
    @Param('rid', BgrsParseRidPipe) rid: string,
    @Req() caller: unknown,
    @Res() response: unknown,
  ): Promise<void> {
    return mappingLookupErrors(response, this.adapterHost, async () => {
      const request = await this.visible.find(rid, caller, { withResultBody: true });
      if (request.statusId !== BgrsStatusId.Finished || !request.result) {
        throw this.conflict(request, BGRS_MESSAGES.resultNotAvailable);
      }
      const stored = await this.results.open(request.result, request.resultBody).catch(() => {
        throw new GoneException(BGRS_MESSAGES.resultGone(rid));
      });
      const status = request.httpStatus ?? 200;
      const headers = {
        ...stored.headers,
        ...(request.contentType ? { 'Content-Type': request.contentType } : {}),
        ...(BODILESS_STATUSES.has(status) ? {} : { 'Content-Length': String(stored.size) }),
      };
      // A client that goes away mid-stream is no error of ours.
      await this.platform
        .get()
        .replay(response, status, headers, stored.body)
        .catch(() => stored.body.destroy());
    });
  }

  /**
   * Cancels a request that has not ended, on whichever instance runs it: its `ProgressReporter.signal` aborts and
   * its handler is unsubscribed. Cancelling a cancelled request again changes nothing.
   */
  @Delete(':rid')
  @ApiBgrsLookup('Cancel a background request', 'record')
  cancel(@Param('rid', BgrsParseRidPipe) rid: string, @Req() caller: unknown, @Res() response: unknown): Promise<void> {
    return mappingLookupErrors(response, this.adapterHost, async () => {
      const request = await this.visible.find(rid, caller);
      if (
        request.statusId !== BgrsStatusId.Cancelled &&
        (await this.repository.cancel(rid, BGRS_MESSAGES.cancelledByClient))
      ) {
        // Here at once; on another instance at its next heartbeat. A job no worker runs yet never runs.
        this.runner.cancel(rid);
        this.worker.stopEnded(rid, BgrsStatusId.Cancelled);
        if (this.queue.enabled) {
          await this.queue.remove(rid);
        }
      }
      // A request that was cancelled already cannot have changed since it was read.
      const current =
        request.statusId === BgrsStatusId.Cancelled ? request : ((await this.repository.findOne(rid)) ?? request);
      // Another DELETE may have won the race: cancelled is cancelled.
      if (current.statusId !== BgrsStatusId.Cancelled) {
        throw this.conflict(current, BGRS_MESSAGES.alreadyEnded);
      }
      this.respond.json(response, [this.presenter.request(current)]);
    });
  }

  private statusIdOf(name: string): BgrsStatusId {
    const entry = Object.entries(BGRS_STATUS_NAMES).find(([, statusName]) => statusName === name);
    if (!entry) {
      throw new BadRequestException(BGRS_MESSAGES.invalidStatus);
    }
    return Number(entry[0]);
  }

  private integerIn(name: string, value: string, min: number, max: number): number {
    const number = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
    if (!(number >= min && number <= max)) {
      throw new BadRequestException(BGRS_MESSAGES.invalidInteger(name, min, max));
    }
    return number;
  }

  private conflict(request: BgrsRequest, message: (status: string, progress: string) => string): ConflictException {
    const view = this.presenter.request(request);
    return new ConflictException({
      statusCode: 409,
      error: 'Conflict',
      message: message(view.status_name, view.progress),
      status_name: view.status_name,
      progress: view.progress,
    });
  }
}
