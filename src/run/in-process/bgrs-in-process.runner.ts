import { Inject, Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import { BGRS_OPTIONS, BGRS_RESULT_STORE, BGRS_STATUS_NAMES, BgrsStatusId } from '../../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../../options/bgrs-options.js';
import { BgrsRequestRepository } from '../../persistence/bgrs-request.repository.js';
import type { BackgroundRun } from '../../accept/background-run.js';
import { BgrsPlatformService } from '../../platform/bgrs-platform.service.js';
import type { ResponseRecorder, ResponseSnapshot } from '../../platform/response-recorder.js';
import { HandlerCancelledError, type HandlerResult } from '../../accept/handler-result.js';
import { BgrsOutcomeRenderer } from '../bgrs-outcome-renderer.service.js';
import type { BgrsResultStore, BgrsResultWriter } from '../../result-store/bgrs-result-store.interface.js';
import { retryWithBackoff } from '../../util/retry.js';
import { createRid } from '../../util/rid.js';

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

const INTERRUPTED = 'interrupted by shutdown';
/** What a stopped handler's `signal` aborts with. */
const STOP_MESSAGES: Record<StopReason, string> = {
  cancelled: 'cancelled',
  shutdown: INTERRUPTED,
  ended: 'the request has ended elsewhere',
};

/** Rejects once `signal` aborts (at once if it has): a stopped run gives up its outcome. */
function stoppedBy(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const stop = () => reject(new HandlerCancelledError());
    if (signal.aborted) {
      stop();
    } else {
      signal.addEventListener('abort', stop, { once: true });
    }
  });
}

/** Waits for `work`, or `ms` at most, leaving no timer behind to hold the process. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Runs accepted requests to their end in this process: at most `maxConcurrent` at once, the others queued in
 * order. It lets each held handler go, records the response it produces into the result store, and writes the
 * final state, retried until it lands. The seam for a runner that hands requests to a queue instead.
 */
@Injectable()
export class BgrsInProcessRunner {
  /** This process, as the holder of leases. */
  readonly instanceId = createRid();
  private readonly logger = new Logger('Bgrs');
  private readonly tickets = new Map<string, Ticket>();
  private readonly queue: Ticket[] = [];
  private slotsInUse = 0;
  private draining = false;
  /** Aborted when the app is gone: final writes stop retrying then. */
  private readonly lifetime = new AbortController();

  constructor(
    private readonly repository: BgrsRequestRepository,
    private readonly renderer: BgrsOutcomeRenderer,
    private readonly platform: BgrsPlatformService,
    @Inject(BGRS_RESULT_STORE) private readonly store: BgrsResultStore,
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
    if (this.draining && (!ticket.hasSlot || this.lifetime.signal.aborted)) {
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
    this.lifetime.abort();
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

  /** Runs a request that holds a slot; one that was recorded as `queued` is marked `processing` first. */
  private begin(ticket: Ticket, accepted: AcceptedRequest): void {
    const { rid } = accepted.run;
    const marked =
      ticket.status === BgrsStatusId.Queued
        ? this.repository
            .markProcessing(rid)
            .catch((error: Error) => this.logger.warn(`${rid}: status not updated: ${error.message}`))
        : Promise.resolve();
    ticket.running = Promise.all([marked, accepted.answered]).then(() => this.execute(ticket, accepted));
  }

  private async execute(ticket: Ticket, accepted: AcceptedRequest): Promise<void> {
    const { run, context, snapshot } = accepted;
    let writer: BgrsResultWriter | undefined;
    let recorder: ResponseRecorder | undefined;
    try {
      writer = this.store.create(run.rid);
      recorder = this.platform.get().record(context.switchToHttp().getResponse(), snapshot, writer.body);
      await Promise.race([this.record(accepted, recorder), stoppedBy(run.signal)]);
      await run.progress.close();
      const location = await writer.commit(recorder.contentType, recorder.keptHeaders());
      ticket.resultStored = true;
      // The handler is done: its slot goes to the next request while the final state is written.
      this.release(ticket);
      const landed = await this.retry(run.rid, () =>
        this.repository.finish({
          rid: run.rid,
          httpStatus: recorder!.statusCode,
          contentType: recorder!.contentType,
          result: location,
          finishedAt: new Date(),
        }),
      );
      if (landed === false) {
        await this.giveUp(run.rid, location);
      }
    } catch (error) {
      // Whatever went wrong, the slot is given back and the record ends.
      this.release(ticket);
      recorder?.close();
      await writer?.discard().catch(() => undefined);
      await run.progress.close();
      if (ticket.stopReason) {
        await this.writeEnd(run.rid, ticket.stopReason);
      } else {
        const reason = `No result could be stored: ${(error as Error).message}`;
        this.logger.error(`${run.rid}: ${reason}`, (error as Error).stack);
        await this.retry(run.rid, () => this.repository.fail(run.rid, reason));
      }
    } finally {
      // The slot was given back above, as soon as the handler was done.
      this.tickets.delete(run.rid);
    }
  }

  /**
   * Lets the handler go and records the response it produces, as the foreground would have sent it: rendered here
   * from its outcome, or, where Nest builds the answer itself, by Nest from the outcome handed back to it.
   */
  private async record(
    { run, result, context, answersItself }: AcceptedRequest,
    recorder: ResponseRecorder,
  ): Promise<ResponseRecorder> {
    run.open();
    if (answersItself) {
      await result.settled;
      result.handOver();
    } else {
      try {
        await this.renderer.renderValue(await result.outcome(), context.switchToHttp().getResponse(), recorder);
      } catch (error) {
        if (error instanceof HandlerCancelledError) {
          throw error;
        }
        this.renderer.renderError(error, context, run.controller!);
      }
    }
    await recorder.done;
    return recorder;
  }

  /**
   * The final write of a request stopped before its end. A cancellation was recorded by whoever cancelled it, and
   * a request that ended elsewhere has its end state already.
   */
  private async writeEnd(rid: string, reason: StopReason): Promise<void> {
    if (reason === 'shutdown') {
      await this.retry(rid, () => this.repository.fail(rid, INTERRUPTED));
    }
  }

  /** A stored result whose request had ended before its final write landed: an end state is final, so it goes. */
  private async giveUp(rid: string, location: string): Promise<void> {
    this.logger.warn(
      `${rid}: result given up: the request had ended elsewhere before its final write landed ` +
        '(this instance lost its lease on it, or it was cancelled); its end state stands',
    );
    await this.store.remove(location).catch((error: Error) => {
      this.logger.warn(
        `${rid}: given-up result ${location} not removed yet (the retention sweep will): ${error.message}`,
      );
    });
  }

  /** Runs a final write until it lands; undefined if it was lost at shutdown. */
  private retry<T>(rid: string, write: () => Promise<T>): Promise<T | undefined> {
    return retryWithBackoff(write, this.lifetime.signal, (error, attempt) => {
      this.logger.warn(`${rid}: final state not written yet (attempt ${attempt}): ${error.message}`);
    }).catch((error: Error) => {
      this.logger.error(`${rid}: final state lost at shutdown: ${error.message}`);
      return undefined;
    });
  }
}
