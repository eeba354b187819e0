import { AsyncLocalStorage } from 'node:async_hooks';
import type { ProgressBuffer } from '../progress/progress-buffer.js';

/** Thrown into a held handler whose request could not be accepted, so that its body never runs. */
export class BackgroundRunRefusedError extends Error {
  constructor() {
    super('The background request was not accepted');
  }
}

/**
 * One background request while it runs in this process: what `ProgressReporter` reads from the async
 * context, and the door the route handler is held at until the early answer is out.
 */
export class BackgroundRun {
  readonly abortController = new AbortController();
  /** The controller instance whose handler arrived; exception filters are looked up for it. */
  controller: object | undefined;
  private arrival: (() => void) | undefined;
  private doorState: 'closed' | 'open' | 'refused' = 'closed';
  /** The door's resolvers, once a handler waits at it: only a handler that arrives at a closed door needs one. */
  private door: { open: () => void; refuse: (error: Error) => void } | undefined;

  constructor(
    readonly rid: string,
    readonly progress: ProgressBuffer,
    /** Which run of the request this is: 1, or more when a queue worker runs it again after another one stopped. */
    readonly attempt = 1,
  ) {}

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** Calls `listener` once the handler reaches its door, i.e. guards and pipes have let it through. */
  onArrival(listener: () => void): void {
    if (this.controller) {
      listener();
    } else {
      this.arrival = listener;
    }
  }

  /**
   * Called by the handler wrapper: announces the arrival and returns the door to wait at (none when it is open).
   * Only the route handler is held; a held method it calls in turn runs straight through.
   */
  arrive(controller: object): Promise<void> | undefined {
    if (this.controller) {
      return undefined;
    }
    this.controller = controller;
    this.arrival?.();
    if (this.doorState === 'open') {
      return undefined;
    }
    if (this.doorState === 'refused') {
      return Promise.reject(new BackgroundRunRefusedError());
    }
    return new Promise<void>((open, refuse) => (this.door = { open, refuse }));
  }

  open(): void {
    this.doorState = 'open';
    this.door?.open();
  }

  refuse(): void {
    if (this.doorState === 'closed') {
      this.doorState = 'refused';
      this.door?.refuse(new BackgroundRunRefusedError());
    }
  }
}

/** The background run the current async context belongs to, if any. */
export const backgroundRunStorage = new AsyncLocalStorage<BackgroundRun>();
