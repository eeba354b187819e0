import { EMPTY, from, Observable, of, switchMap, throwError, type Subscription } from 'rxjs';

/** What the outcome of a cancelled handler reads as. */
export class HandlerCancelledError extends Error {
  constructor() {
    super('The background request was cancelled');
  }
}

/**
 * The route's observable (handler plus the interceptors inside ours), subscribed at once so that its pipes run in
 * the foreground, and kept until the background run reads its outcome. It is unsubscribed only to cancel: Nest
 * destroys a stream the handler produced when its subscriber goes away.
 */
export class HandlerResult {
  private hasValue = false;
  private value: unknown;
  private error: { reason: unknown } | undefined;
  private readonly subscription: Subscription;
  private isSettled = false;
  private readonly settledListeners: Array<() => void> = [];
  private handedOver = false;
  private markHandedOver: (() => void) | undefined;

  constructor(source: Observable<unknown>) {
    this.subscription = source.subscribe({
      next: (value) => {
        this.hasValue = true;
        this.value = value;
      },
      error: (reason) => {
        this.error = { reason };
        this.settle();
      },
      complete: () => this.settle(),
    });
  }

  /** Calls `listener` once the observable has settled (at once if it has). */
  onSettled(listener: () => void): void {
    if (this.isSettled) {
      listener();
    } else {
      this.settledListeners.push(listener);
    }
  }

  /** Resolves when the observable has completed or failed, or was cancelled. */
  get settled(): Promise<void> {
    return new Promise((resolve) => this.onSettled(resolve));
  }

  /** The last value, as Nest takes it (`lastValueFrom`), or the error. */
  async outcome(): Promise<unknown> {
    await this.settled;
    if (this.error) {
      throw this.error.reason;
    }
    return this.value;
  }

  /** Stops listening to the handler; the outcome becomes a `HandlerCancelledError`. */
  cancel(): void {
    this.subscription.unsubscribe();
    this.error ??= { reason: new HandlerCancelledError() };
    this.settle();
  }

  /**
   * The outcome for Nest to answer with, once `handOver()` is called: for the routes whose answer Nest builds
   * itself (a redirect, a template, or none for `@Res()`), and whose errors its exception filters render.
   */
  handedOverToNest(): Observable<unknown> {
    // Made only for these routes: most runs never hand over.
    const handedOver = this.handedOver
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.markHandedOver = resolve));
    return from(handedOver).pipe(switchMap(() => this.toObservable()));
  }

  /** Lets `handedOverToNest()` deliver the outcome; a cancelled run delivers no value, so nothing is rendered. */
  handOver(): void {
    if (this.error?.reason instanceof HandlerCancelledError) {
      this.error = undefined;
      this.hasValue = false;
    }
    this.handedOver = true;
    this.markHandedOver?.();
  }

  private settle(): void {
    if (this.isSettled) {
      return;
    }
    this.isSettled = true;
    for (const listener of this.settledListeners.splice(0)) {
      listener();
    }
  }

  /** The settled outcome as an observable again, for a request that stays in the foreground after all. */
  toObservable(): Observable<unknown> {
    if (this.error) {
      return throwError(() => this.error!.reason);
    }
    return this.hasValue ? of(this.value) : EMPTY;
  }
}
