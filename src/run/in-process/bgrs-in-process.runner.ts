import { Inject, Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { BGRS_INSTANCE_ID, BGRS_OPTIONS, BGRS_STATUS_NAMES, BgrsStatusId } from '../../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../../options/bgrs-options.js';
import type { BackgroundRun } from '../../accept/background-run.js';
import { BgrsPlatformService } from '../../platform/bgrs-platform.service.js';
import type { ResponseSnapshot } from '../../platform/response-recorder.js';
import { HandlerCancelledError, type HandlerResult } from '../../accept/handler-result.js';
import { BgrsOutcomeRenderer } from '../bgrs-outcome-renderer.service.js';
import { settledWithin } from '../../util/settled-within.js';
import { BgrsRunCompletion, type ProducedResponse } from '../bgrs-run-completion.service.js';
import { BGRS_MESSAGES } from '../../bgrs.messages.js';

/** An accepted request, handed over as its early answer goes out. */
export interface AcceptedRequest {
  run: BackgroundRun;
  result: HandlerResult;
  context: ExecutionContext;
  snapshot: ResponseSnapshot;
  /** Nest builds the answer from the handler's outcome itself (`@Res()`, `@Redirect()`, `@Render()`). */
  answersItself: boolean;
  /** Resolves once the early answer is out (or the client has gone away): only then may the handler run. */
  answered: Promise<void>;
}

/** A place taken by a request that passed its guards and pipes, before it is recorded. */
export interface RunTicket {
  readonly status: BgrsStatusId.Processing | BgrsStatusId.Queued;
}

/** Why a request is stopped before its end: a client cancelled it, the app shuts down, or it ended elsewhere. */
type StopReason = 'cancelled' | 'shutdown' | 'ended';

interface Ticket extends RunTicket {
  accepted?: AcceptedRequest;
  /** Holds a run slot: it runs as soon as it is accepted. */
  hasSlot: boolean;
  running?: Promise<void>;
  /** Its handler is done and its result stored: only the final write is left. */
  resultStored?: boolean;
  /** Why it was stopped before its end, if it was. */
  stopReason?: StopReason;
}

/** What a stopped handler's `signal` aborts with. */
const STOP_MESSAGES: Record<StopReason, string> = {
  cancelled: 'cancelled',
  shutdown: BGRS_MESSAGES.interruptedByShutdown,
  ended: 'the request has ended elsewhere',
};

/**
 * Runs accepted requests in this process: at most `maxConcurrent` at once, the others queued in order; stops them
 * when they are cancelled, end elsewhere, or the app shuts down. Each run lets its held handler go and records the
 * response it produces; `BgrsRunCompletion` stores it and ends the request.
 */
@Injectable()
export class BgrsInProcessRunner {
  private readonly logger = new Logger('Bgrs');
  private readonly tickets = new Map<string, Ticket>();
  private readonly queue: Ticket[] = [];
  private slotsInUse = 0;
  private draining = false;
  /** The grace of a shutdown is over. */
  private drained = false;

  constructor(
    /** This process, as the holder of leases. */
    @Inject(BGRS_INSTANCE_ID) readonly instanceId: string,
    private readonly completion: BgrsRunCompletion,
    private readonly renderer: BgrsOutcomeRenderer,
    private readonly platform: BgrsPlatformService,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
  ) {}

  /** False once the app is shutting down. */
  get accepting(): boolean {
    return !this.draining;
  }

  /** Whether `reserve()` would find a place now. */
  get hasRoom(): boolean {
    return this.slotsInUse < this.options.maxConcurrent || this.queue.length < this.options.maxQueued;
  }

  /** The requests this instance holds, running or queued. */
  get rids(): string[] {
    return [...this.tickets.keys()];
  }

  /** Takes a run slot, or a place in the queue; undefined when both are full or the app is shutting down. */
  reserve(): RunTicket | undefined {
    if (this.draining) {
      return undefined;
    }
    if (this.slotsInUse < this.options.maxConcurrent) {
      this.slotsInUse++;
      const ticket: Ticket = { status: BgrsStatusId.Processing, hasSlot: true };
      return ticket;
    }
    if (this.queue.length < this.options.maxQueued) {
      const ticket: Ticket = { status: BgrsStatusId.Queued, hasSlot: false };
      this.queue.push(ticket);
      return ticket;
    }
    return undefined;
  }

  /** Gives a place back: the request could not be recorded. */
  withdraw(ticket: RunTicket): void {
    this.release(ticket as Ticket);
  }

  /** Starts an accepted request once its early answer is out, or keeps it waiting for a slot. */
  start(reserved: RunTicket, accepted: AcceptedRequest): void {
    const ticket = reserved as Ticket;
    ticket.accepted = accepted;
    this.tickets.set(accepted.run.rid, ticket);
    // Accepted while a drain began: it still gets the grace, unless it has no slot or the grace is over.
    if (this.draining && (!ticket.hasSlot || this.drained)) {
      void this.stopQueued(ticket, 'shutdown');
    } else if (ticket.hasSlot) {
      this.begin(ticket, accepted);
    }
  }

  /** Stops a request this instance holds (its status is written by whoever cancelled it); false if not held here. */
  cancel(rid: string): boolean {
    const ticket = this.tickets.get(rid);
    if (!ticket) {
      return false;
    }
    this.stop(ticket, 'cancelled');
    return true;
  }

  /**
   * Stops a request held here that another writer has ended (status `statusId`): a cancellation, or a peer's
   * reaper that failed it while this instance was cut off from the database for longer than its lease. An end state
   * is final, so its handler is aborted, its output dropped, and nothing is written. A request whose result is
   * stored already is left to its final write, which finds the end and gives the result up by itself.
   */
  stopEnded(rid: string, statusId: BgrsStatusId): void {
    const ticket = this.tickets.get(rid);
    if (!ticket || ticket.resultStored) {
      return;
    }
    if (statusId === BgrsStatusId.Cancelled) {
      this.stop(ticket, 'cancelled');
      return;
    }
    this.logger.warn(
      `${rid}: stopped here: the request was ${BGRS_STATUS_NAMES[statusId]} elsewhere ` +
        "(this instance's lease on it had run out); its end state stands and its output is dropped",
    );
    this.stop(ticket, 'ended');
  }

  /**
   * Shutdown: no new requests; queued ones fail at once, running ones get `shutdownGraceMs` to end, the rest are
   * stopped and fail as "interrupted by shutdown".
   */
  async drain(): Promise<void> {
    this.draining = true;
    await Promise.all(this.queue.splice(0).map((ticket) => this.stopQueued(ticket, 'shutdown')));
    const running = () => [...this.tickets.values()].flatMap((ticket) => (ticket.running ? [ticket.running] : []));
    await settledWithin(Promise.all(running()), this.options.shutdownGraceMs);
    for (const ticket of this.tickets.values()) {
      this.stop(ticket, 'shutdown');
    }
    await settledWithin(Promise.all(running()), Math.min(this.options.shutdownGraceMs, 5000));
    this.drained = true;
  }

  private stop(ticket: Ticket, reason: StopReason): void {
    if (!ticket.accepted || ticket.stopReason) {
      return;
    }
    ticket.stopReason = reason;
    ticket.accepted.run.abortController.abort(new Error(STOP_MESSAGES[reason]));
    if (ticket.running) {
      ticket.accepted.result.cancel();
    } else {
      void this.stopQueued(ticket, reason);
    }
  }

  /** Ends a request whose handler never ran. */
  private async stopQueued(ticket: Ticket, reason: StopReason): Promise<void> {
    this.release(ticket);
    if (!ticket.accepted) {
      return;
    }
    const { run } = ticket.accepted;
    this.tickets.delete(run.rid);
    run.refuse();
    await this.writeEnd(run.rid, reason);
  }

  private release(ticket: Ticket): void {
    if (ticket.hasSlot) {
      ticket.hasSlot = false;
      this.slotsInUse--;
      this.promote();
    } else {
      const index = this.queue.indexOf(ticket);
      if (index >= 0) {
        this.queue.splice(index, 1);
      }
    }
  }

  /** Gives free slots to the oldest queued requests. */
  private promote(): void {
    while (!this.draining && this.slotsInUse < this.options.maxConcurrent && this.queue.length > 0) {
      const ticket = this.queue.shift()!;
      ticket.hasSlot = true;
      this.slotsInUse++;
      if (ticket.accepted) {
        this.begin(ticket, ticket.accepted);
      }
    }
  }

  /**
   * Runs a request that holds a slot. One that was recorded as `queued` is marked `processing` with its progress
   * (within `progressIntervalMs`); the final write, fenced to running requests, never depends on that mark.
   */
  private begin(ticket: Ticket, accepted: AcceptedRequest): void {
    if (ticket.status === BgrsStatusId.Queued) {
      accepted.run.progress.started();
    }
    ticket.running = accepted.answered.then(() => this.execute(ticket, accepted));
  }

  private async execute(ticket: Ticket, accepted: AcceptedRequest): Promise<void> {
    const { run } = accepted;
    try {
      const outcome = await this.completion.complete(
        run,
        (body) => this.record(accepted, body),
        (stored) => {
          ticket.resultStored = stored;
          // The handler is done: its slot goes to the next request while the final state is written.
          this.release(ticket);
        },
      );
      if (outcome === 'stopped') {
        await this.writeEnd(run.rid, ticket.stopReason!);
      }
    } finally {
      this.tickets.delete(run.rid);
    }
  }

  /**
   * Lets the handler go and records the response it produces, as the foreground would have sent it: rendered here
   * from its outcome, or, where Nest builds the answer itself, by Nest from the outcome handed back to it.
   */
  private async record(accepted: AcceptedRequest, body: Writable): Promise<ProducedResponse> {
    const { run, result, context, snapshot, answersItself } = accepted;
    const response = context.switchToHttp().getResponse();
    const recorder = this.platform.get().record(response, snapshot, body);
    // A stopped handler (or Nest) may go on writing to the response it holds: that goes nowhere.
    run.signal.addEventListener('abort', () => recorder.close(), { once: true });
    run.open();
    if (answersItself) {
      await result.settled;
      result.handOver();
    } else {
      try {
        await this.renderer.renderValue(await result.outcome(), response, recorder);
      } catch (error) {
        if (error instanceof HandlerCancelledError) {
          throw error;
        }
        this.renderer.renderError(error, context, run.controller!);
      }
    }
    await recorder.done;
    return { statusCode: recorder.statusCode, contentType: recorder.contentType, headers: recorder.keptHeaders() };
  }

  /**
   * The final write of a request stopped before its end. A cancellation was recorded by whoever cancelled it, and
   * a request that ended elsewhere has its end state already.
   */
  private async writeEnd(rid: string, reason: StopReason): Promise<void> {
    if (reason === 'shutdown') {
      await this.completion.fail(rid, BGRS_MESSAGES.interruptedByShutdown);
    }
  }
}
