import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteBatcher } from '../../src/persistence/write-batcher.js';

describe('WriteBatcher', () => {
  it('writes a lone item at once, and groups the items that arrive while a write is under way', async () => {
    const writes: number[][] = [];
    const batcher = new WriteBatcher<number>(async (items) => {
      writes.push(items);
      await new Promise((resolve) => setImmediate(resolve));
    });
    const first = batcher.add(1);
    await Promise.all([batcher.add(2), batcher.add(3), batcher.add(4), first]);
    assert.deepEqual(writes, [[1], [2, 3, 4]]);
  });

  it('never puts more than maxBatch items in one write', async () => {
    const sizes: number[] = [];
    const batcher = new WriteBatcher<number>(
      async (items) => {
        sizes.push(items.length);
      },
      { maxBatch: 3 },
    );
    await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.add(i)));
    assert.ok(
      sizes.every((size) => size <= 3),
      `sizes ${sizes.join(',')}`,
    );
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      8,
    );
  });

  it('with weights, puts no more than maxWeight in one write, and a heavier item alone', async () => {
    const writes: number[][] = [];
    const batcher = new WriteBatcher<number>(
      async (items) => {
        writes.push(items);
        await new Promise((resolve) => setImmediate(resolve));
      },
      { weigh: (item) => item, maxWeight: 10 },
    );
    const first = batcher.add(1);
    await Promise.all([4, 5, 2, 30, 3, 3].map((item) => batcher.add(item)).concat(first));
    assert.deepEqual(writes, [[1], [4, 5], [2], [30], [3, 3]]);
  });

  it('when a grouped write fails, tries each item on its own so that only the bad one fails', async () => {
    const batcher = new WriteBatcher<string>(async (items) => {
      if (items.includes('bad')) {
        throw new Error(`rejected ${items.join(',')}`);
      }
    });
    const blocker = batcher.add('first');
    const outcomes = await Promise.allSettled([
      batcher.add('good-1'),
      batcher.add('bad'),
      batcher.add('good-2'),
      blocker,
    ]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /rejected bad$/);
  });

  it('resolves each item to its own result, also when a failed group is tried item by item', async () => {
    const batcher = new WriteBatcher<string, string>(async (items) => {
      if (items.includes('bad') && items.length > 1) {
        throw new Error('one bad item');
      }
      return items.map((item) => `${item}!`);
    });
    const blocker = batcher.add('first');
    const results = await Promise.all([batcher.add('a'), batcher.add('bad'), batcher.add('b'), blocker]);
    assert.deepEqual(results, ['a!', 'bad!', 'b!', 'first!']);
  });
});
