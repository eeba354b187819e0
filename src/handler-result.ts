import { EMPTY, Observable, of, throwError } from 'rxjs';

/**
 * The route's observable (handler plus the interceptors inside ours), subscribed at once so that its pipes run in
 * the foreground, and kept until the background run reads its outcome. It is never unsubscribed early: Nest
 * would destroy a stream the handler produced.
 */
export class HandlerResult {
  private hasValue = false;
  private value: unknown;
  private error: { reason: unknown } | undefined;
  /** Resolves when the observable has completed or failed. */
  readonly settled: Promise<void>;

  constructor(source: Observable<unknown>) {
    this.settled = new Promise((resolve) => {
      source.subscribe({
        next: (value) => {
          this.hasValue = true;
          this.value = value;
        },
        error: (reason) => {
          this.error = { reason };
          resolve();
        },
        complete: () => resolve(),
      });
    });
  }

  /** The last value, as Nest takes it (`lastValueFrom`), or the error. */
  async outcome(): Promise<unknown> {
    await this.settled;
    if (this.error) {
      throw this.error.reason;
    }
    return this.value;
  }

  /** The settled outcome as an observable again, for a request that stays in the foreground after all. */
  toObservable(): Observable<unknown> {
    if (this.error) {
      return throwError(() => this.error!.reason);
    }
    return this.hasValue ? of(this.value) : EMPTY;
  }
}
