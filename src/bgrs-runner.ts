import { Inject, Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import { BGRS_RESULT_STORE } from './bgrs.constants.js';
import { BgrsRequestRepository } from './bgrs-request.repository.js';
import type { BackgroundRun } from './background-run.js';
import { PlatformCapture } from './capture/platform-capture.js';
import type { ResponseSnapshot } from './capture/response-recorder.js';
import type { HandlerResult } from './handler-result.js';
import { OutcomeRenderer } from './outcome-renderer.js';
import type { BgrsResultStore } from './result-store/bgrs-result-store.interface.js';

/** An accepted request, handed over once its early answer is out. */
export interface AcceptedRequest {
  run: BackgroundRun;
  result: HandlerResult;
  context: ExecutionContext;
  snapshot: ResponseSnapshot;
}

/**
 * Runs accepted requests to their end in this process: lets the held handler go, records the response it produces
 * into the result store, and writes the final state. The seam for a runner that hands requests to a queue instead.
 */
@Injectable()
export class BgrsRunner {
  private readonly logger = new Logger('Bgrs');

  constructor(
    private readonly repository: BgrsRequestRepository,
    private readonly renderer: OutcomeRenderer,
    @Inject(BGRS_RESULT_STORE) private readonly store: BgrsResultStore,
    private readonly platform: PlatformCapture,
  ) {}

  async run({ run, result, context, snapshot }: AcceptedRequest): Promise<void> {
    const response = context.switchToHttp().getResponse();
    const writer = this.store.create(run.rid);
    const recorder = this.platform.get().record(response, snapshot, writer.body);
    run.open();
    try {
      try {
        const value = await result.outcome();
        if (!this.renderer.handlesResponse(context)) {
          await this.renderer.renderValue(value, response, recorder);
        }
      } catch (error) {
        this.renderer.renderError(error, context, run.controller!);
      }
      await recorder.done;
      await run.progress.close();
      const location = await writer.commit(recorder.contentType, recorder.keptHeaders());
      await this.repository.finish(run.rid, {
        httpStatus: recorder.statusCode,
        contentType: recorder.contentType,
        result: location,
        finishedAt: new Date(),
      });
    } catch (error) {
      const reason = `No result could be stored: ${(error as Error).message}`;
      this.logger.error(`${run.rid}: ${reason}`, (error as Error).stack);
      await writer.discard();
      await run.progress.close();
      await this.repository.fail(run.rid, reason).catch((failure: Error) => {
        this.logger.error(`${run.rid}: could not be marked failed: ${failure.message}`);
      });
    }
  }
}
