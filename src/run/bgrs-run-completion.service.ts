import { Injectable, Logger } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { HandlerCancelledError } from '../accept/handler-result.js';
import { BgrsRequestRepository } from '../persistence/bgrs-request.repository.js';
import type { ProgressBuffer } from '../progress/progress-buffer.js';
import type { BgrsResultHeaders } from '../result-store/bgrs-result-store.interface.js';
import { BgrsResults } from '../result-store/bgrs-results.service.js';
import type { RunResultWriter } from '../result-store/inline/inlining-result-writer.js';
import { retryWithBackoff } from '../util/retry.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/** The response a run produced, once its body is written. */
export interface ProducedResponse {
  statusCode: number;
  contentType: string | null;
  /** Headers kept with the result beyond its Content-Type. */
  headers: BgrsResultHeaders;
}

/** A run to complete, whatever runs it. */
export interface CompletableRun {
  readonly rid: string;
  readonly progress: ProgressBuffer;
  /** Aborts when the run is stopped before its end: its outcome is then given up. */
  readonly signal: AbortSignal;
}

/** How a completion ended. `stopped`: the run's signal aborted first, and nothing was written for it. */
export type CompletionOutcome = 'finished' | 'given up' | 'failed' | 'stopped';

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

/**
 * Completes a run, whichever runner ran it: the response it produces goes into the result store, then the request
 * ends in one final write, retried until it lands. The final write is fenced: a request that ended meanwhile (failed
 * by a peer that took this instance for dead, cancelled) keeps its end state, and the stored result is given up.
 * When no response can be stored the request is `failed` with a details row saying why.
 */
@Injectable()
export class BgrsRunCompletion {
  private readonly logger = new Logger('Bgrs');
  /** Aborted once the app is going (`stopRetrying`): final writes stop retrying then. */
  private readonly lifetime = new AbortController();

  constructor(
    private readonly repository: BgrsRequestRepository,
    private readonly results: BgrsResults,
  ) {}

  /**
   * Stores what `produce` writes and ends the request. `onProduced(stored)` is called as soon as the run is done
   * with, before any final write: a runner frees its slot then. `attempt` (queue mode) fences the final write: it
   * lands only while no later run of the request has started, and the result is stored under the attempt's name.
   */
  async complete(
    run: CompletableRun,
    produce: (body: Writable) => Promise<ProducedResponse>,
    onProduced: (stored: boolean) => void,
    attempt?: number,
  ): Promise<CompletionOutcome> {
    let writer: RunResultWriter | undefined;
    try {
      writer = this.results.create(run.rid, attempt);
      const response = await Promise.race([produce(writer.body), stoppedBy(run.signal)]);
      await run.progress.close();
      const { location, body } = await writer.commit(response.contentType, response.headers);
      onProduced(true);
      const landed = await this.retry(run.rid, () =>
        this.repository.finish({
          rid: run.rid,
          attempt,
          httpStatus: response.statusCode,
          contentType: response.contentType,
          result: location,
          body,
          finishedAt: new Date(),
        }),
      );
      if (landed === false) {
        await this.giveUp(run.rid, location);
        return 'given up';
      }
      return 'finished';
    } catch (error) {
      onProduced(false);
      await writer?.discard().catch(() => undefined);
      await run.progress.close();
      if (run.signal.aborted) {
        return 'stopped';
      }
      const reason = BGRS_MESSAGES.notStored((error as Error).message);
      this.logger.error(`${run.rid}: ${reason}`, (error as Error).stack);
      await this.fail(run.rid, reason, attempt);
      return 'failed';
    }
  }

  /**
   * Ends a request that has not ended as `failed`, with a details row saying why; retried until it lands. With an
   * `attempt`, only while no later run of it has started.
   */
  async fail(rid: string, reason: string, attempt?: number): Promise<void> {
    await this.retry(rid, () => this.repository.fail(rid, reason, attempt));
  }

  /** At shutdown, once the runners have drained: final writes still waiting for the database are lost. */
  stopRetrying(): void {
    this.lifetime.abort();
  }

  /** A stored result whose request had ended before its final write landed: an end state is final, so it goes. */
  private async giveUp(rid: string, location: string): Promise<void> {
    this.logger.warn(
      `${rid}: result given up: the request had ended elsewhere before its final write landed ` +
        '(this instance lost its lease on it, or it was cancelled); its end state stands',
    );
    await this.results.remove(location).catch((error: Error) => {
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
