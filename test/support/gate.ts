/**
 * A promise the test opens: a handler awaits `gate.wait()`, so the test decides when it may go on (no timings).
 */
export class Gate {
  private release!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));

  wait(): Promise<void> {
    return this.opened;
  }

  open(): void {
    this.release();
  }
}

/**
 * Gates by name, created on first use by whichever side comes first: a handler reads the name from its request
 * (e.g. `?gate=a1`) and waits; the test opens it. `openAll()` in `after` so that no handler is left waiting.
 */
export class Gates {
  private readonly gates = new Map<string, Gate>();

  get(name: string): Gate {
    let gate = this.gates.get(name);
    if (!gate) {
      gate = new Gate();
      this.gates.set(name, gate);
    }
    return gate;
  }

  wait(name: string): Promise<void> {
    return this.get(name).wait();
  }

  open(name: string): void {
    this.get(name).open();
  }

  openAll(): void {
    this.gates.forEach((gate) => gate.open());
  }
}
