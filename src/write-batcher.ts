interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Groups writes that arrive while one is under way into the next one, so concurrent acceptances cost one
 * transaction (and one log flush) together instead of one each. A lone write goes out at once: there is no
 * waiting for company.
 */
export class WriteBatcher<T> {
  private pending: Array<Pending<T>> = [];
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves once the write that took `item` has landed; rejects if it failed. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.writing) {
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        await this.write(batch.map((entry) => entry.item));
        batch.forEach((entry) => entry.resolve());
      } catch (error) {
        if (batch.length === 1) {
          batch[0].reject(error);
        } else {
          // One bad item must not sink the others: each is tried on its own.
          await Promise.all(batch.map((entry) => this.write([entry.item]).then(entry.resolve, entry.reject)));
        }
      }
    }
    this.writing = false;
  }
}
