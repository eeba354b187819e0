/**
 * A task run every `intervalMs` once started (its timer does not keep the process alive), one pass at a time: a
 * call while a pass runs joins it. A failed pass answers `onError`'s value; `stop()` waits for the pass under way,
 * so that a shutdown does not close the database beneath it.
 */
export class RepeatingTask<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;

  constructor(
    private readonly task: () => Promise<T>,
    private readonly onError: (error: Error) => T,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.run(), intervalMs);
    this.timer.unref();
  }

  /** One pass (or the one under way). */
  run(): Promise<T> {
    this.running ??= this.task()
      .catch(this.onError)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
