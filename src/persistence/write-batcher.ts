/** How many items one write takes at most; with `weigh`, also how much of them (one heavier item goes alone). */
export interface WriteBatchLimits<T> {
  maxBatch?: number;
  weigh?: (item: T) => number;
  maxWeight?: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Groups writes that arrive while one is under way into the next one, so concurrent acceptances cost one
 * transaction (and one log flush) together instead of one each. A lone write goes out at once: there is no
 * waiting for company. A write may answer one result per item, in order (e.g. whether each landed).
 */
export class WriteBatcher<T, R = void> {
  private pending: Array<Pending<T, R>> = [];
  private writing = false;

  private readonly maxBatch: number;
  private readonly weigh: ((item: T) => number) | undefined;
  private readonly maxWeight: number;

  constructor(
    private readonly write: (items: T[]) => Promise<R[] | void>,
    { maxBatch = 500, weigh, maxWeight = Infinity }: WriteBatchLimits<T> = {},
  ) {
    this.maxBatch = maxBatch;
    this.weigh = weigh;
    this.maxWeight = maxWeight;
  }

  /** Resolves to the item's result once the write that took it has landed; rejects if it failed. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.writing) {
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.nextBatchSize());
      try {
        const results = await this.write(batch.map((entry) => entry.item));
        batch.forEach((entry, index) => entry.resolve(results?.[index] as R));
      } catch (error) {
        if (batch.length === 1) {
          batch[0].reject(error);
        } else {
          // One bad item must not sink the others: each is tried on its own.
          await Promise.all(
            batch.map((entry) =>
              this.write([entry.item]).then((results) => entry.resolve(results?.[0] as R), entry.reject),
            ),
          );
        }
      }
    }
    this.writing = false;
  }

  /** How many of the pending items the next write takes: up to `maxBatch`, and up to `maxWeight` of them. */
  private nextBatchSize(): number {
    const count = Math.min(this.pending.length, this.maxBatch);
    if (!this.weigh) {
      return count;
    }
    let weight = 0;
    for (let index = 0; index < count; index++) {
      weight += this.weigh(this.pending[index].item);
      if (weight > this.maxWeight) {
        return Math.max(index, 1);
      }
    }
    return count;
  }
}
