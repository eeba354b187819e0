import { GuardsConsumer } from '@nestjs/core/guards/guards-consumer.js';
import type { BackgroundRun } from '../../accept/background-run.js';

/** Where a replayed request carries its run: a symbol of the module's, which no network client can send. */
export const BGRS_REPLAY = Symbol('bgrs:replay');

/** A request a queue worker replays: its background run, and what the guards put on it at acceptance. */
export interface Replay {
  run: BackgroundRun;
  carried: Record<string, unknown>;
}

/** The replay a request is, if it is one (on Fastify, the marker is on the raw request). */
export function replayOf(request: unknown): Replay | undefined {
  const raw = (request as { raw?: unknown } | undefined)?.raw ?? request;
  return (raw as { [BGRS_REPLAY]?: Replay } | undefined)?.[BGRS_REPLAY];
}

let installed = false;

/**
 * A replayed request was let through by the route's guards at acceptance; they must not decide again on the worker,
 * where a token may have expired while the job waited. Nest offers no hook for this, so its `GuardsConsumer` (an
 * internal, which the router asks) lets replays through, and only them. A start-up self-test checks that this still
 * holds, so that a Nest upgrade that changes it stops queue mode instead of silently running the guards again.
 */
export async function skipGuardsOnReplays(): Promise<void> {
  if (!installed) {
    const tryActivate = GuardsConsumer.prototype.tryActivate;
    GuardsConsumer.prototype.tryActivate = function (this: GuardsConsumer, guards, args, ...rest) {
      return replayOf(args[0]) ? Promise.resolve(true) : tryActivate.call(this, guards, args, ...rest);
    };
    installed = true;
  }
  await selfTest();
}

async function selfTest(): Promise<void> {
  const deny = { canActivate: () => false };
  const consumer = new GuardsConsumer();
  const replay = { [BGRS_REPLAY]: {} };
  const handler = () => undefined;
  const [replayed, plain] = await Promise.all([
    consumer.tryActivate([deny], [replay, {}, handler], { constructor: Object }, handler, 'http'),
    consumer.tryActivate([deny], [{}, {}, handler], { constructor: Object }, handler, 'http'),
  ]);
  if (replayed !== true || plain !== false) {
    throw new Error(
      'BgrsModule queue mode: this version of @nestjs/core no longer lets the module keep guards from deciding ' +
        'again on replayed requests; queue mode cannot run safely with it',
    );
  }
}
