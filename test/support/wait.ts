import { setTimeout as sleep } from 'node:timers/promises';

/** How long a poll may take before the test fails: a deadline against hangs, never an assertion about speed. */
export const DEFAULT_DEADLINE_MS = Number(process.env.BGRS_TEST_DEADLINE_MS ?? 20_000);
export const POLL_INTERVAL_MS = 20;

/**
 * Polls `probe` every 20 ms until it returns something other than `undefined`, and returns that. Past the
 * deadline the test fails with `description` and the last thing `describeLast` says about the state.
 */
export async function eventually<T>(
  description: string,
  probe: () => Promise<T | undefined>,
  options: { deadlineMs?: number; describeLast?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      const last = options.describeLast?.();
      throw new Error(
        `Timed out after ${options.deadlineMs ?? DEFAULT_DEADLINE_MS} ms waiting for ${description}` +
          (last ? `; last seen: ${last}` : ''),
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}
