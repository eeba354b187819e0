import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepeatingTask } from '../../src/util/repeating-task.js';

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('RepeatingTask', () => {
  it('runs one pass at a time: calls while a pass runs join it, a call after it starts the next', async () => {
    let passes = 0;
    const hold = gate();
    const task = new RepeatingTask(
      async () => {
        passes++;
        await hold.promise;
        return passes;
      },
      () => -1,
    );
    const joined = [task.run(), task.run(), task.run()];
    hold.open();
    assert.deepEqual(await Promise.all(joined), [1, 1, 1]);
    assert.equal(await task.run(), 2);
  });

  it("answers onError's value for a failed pass, and runs again afterwards", async () => {
    let fail = true;
    const seen: string[] = [];
    const task = new RepeatingTask(
      async () => {
        if (fail) {
          throw new Error('database away');
        }
        return 1;
      },
      (error) => {
        seen.push(error.message);
        return 0;
      },
    );
    assert.equal(await task.run(), 0);
    fail = false;
    assert.equal(await task.run(), 1);
    assert.deepEqual(seen, ['database away']);
  });

  it('runs on its interval once started, and stop() waits for the pass under way', async () => {
    let ended = 0;
    const started = gate();
    const hold = gate();
    const task = new RepeatingTask(
      async () => {
        started.open();
        await hold.promise;
        ended++;
      },
      () => undefined,
    );
    task.start(1);
    await started.promise;
    const stopped = task.stop().then(() => ended);
    hold.open();
    assert.equal(await stopped, 1);
  });
});
