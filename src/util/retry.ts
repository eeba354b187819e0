import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `write` until it succeeds, waiting longer after each failure (100 ms doubling up to 5 s), because a final
 * state must land once the database is back. Gives up only when `signal` aborts, rethrowing the last error.
 */
export async function retryWithBackoff<T>(
  write: () => Promise<T>,
  signal: AbortSignal,
  onFailure: (error: Error, attempt: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (signal.aborted) {
        throw error;
      }
      onFailure(error as Error, attempt);
      await sleep(Math.min(100 * 2 ** (attempt - 1), 5000), undefined, { signal }).catch(() => undefined);
    }
  }
}
