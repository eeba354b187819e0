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
  private markArrived!: () => void;
  /** Resolves when the handler reaches its door, i.e. guards and pipes have let it through. */
  readonly arrived = new Promise<void>((resolve) => (this.markArrived = resolve));
  private openDoor!: () => void;
  private refuseDoor!: (error: Error) => void;
  private readonly door = new Promise<void>((resolve, reject) => {
    this.openDoor = resolve;
    this.refuseDoor = reject;
  });

  constructor(
    readonly rid: string,
    readonly progress: ProgressBuffer,
    /** Which run of the request this is: 1, or more when a queue worker runs it again after another one stopped. */
    readonly attempt = 1,
  ) {
    // A refused run's door is only awaited by a handler that arrived.
    this.door.catch(() => undefined);
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /**
   * Called by the handler wrapper: announces the arrival and returns the door to wait at. Only the route
   * handler is held; a held method it calls in turn runs straight through.
   */
  arrive(controller: object): Promise<void> | undefined {
    if (this.controller) {
      return undefined;
    }
    this.controller = controller;
    this.markArrived();
    return this.door;
  }

  open(): void {
    this.openDoor();
  }

  refuse(): void {
    this.refuseDoor(new BackgroundRunRefusedError());
  }
}

/** The background run the current async context belongs to, if any. */
export const backgroundRunStorage = new AsyncLocalStorage<BackgroundRun>();
