import assert from 'node:assert/strict';
import { Logger } from '@nestjs/common';
import { after, before, describe, it } from 'node:test';
import { KeepingLogger } from '../support/keeping-logger.js';
import type { BgrsRequestRepository, NewBgrsDetail } from '../../src/persistence/bgrs-request.repository.js';
import { ProgressBuffer } from '../../src/progress/progress-buffer.js';

/** Records what the buffer would write; the writes to MariaDB themselves are covered over HTTP. */
class RecordingRepository {
  readonly progress: number[] = [];
  readonly details: NewBgrsDetail[] = [];
  /** Every write, in order: `start`, `details` or `progress`. */
  readonly writes: string[] = [];
  failing = false;

  async markProcessing(): Promise<void> {
    if (this.failing) {
      throw new Error('database away');
    }
    this.writes.push('start');
  }

  async saveProgress(_rid: string, percent: number): Promise<void> {
    if (this.failing) {
      throw new Error('database away');
    }
    this.progress.push(percent);
    this.writes.push('progress');
  }

  async addDetails(rows: NewBgrsDetail[]): Promise<void> {
    if (this.failing) {
      throw new Error('database away');
    }
    this.details.push(...rows);
    if (rows.length > 0) {
      this.writes.push('details');
    }
  }
}

function buffer(repository: RecordingRepository, intervalMs = 60_000): ProgressBuffer {
  return new ProgressBuffer('0'.repeat(32), repository as unknown as BgrsRequestRepository, intervalMs);
}

describe('ProgressBuffer', () => {
  const logger = new KeepingLogger(true);
  before(() => Logger.overrideLogger(logger));
  after(() => Logger.overrideLogger(['error', 'warn']));

  it('clamps, rounds to hundredths, ignores NaN and never goes down', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository);
    for (const value of [-5, Number.NaN, 12.345, 10, Number.POSITIVE_INFINITY, 50]) {
      progress.report(value);
      await progress.flush();
    }
    assert.deepEqual(repository.progress, [12.35, 100]);
  });

  it('coalesces a tight loop of reports into one write of the last value', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository);
    for (let i = 0; i <= 100_000; i++) {
      progress.report(i / 1000);
    }
    await progress.close();
    assert.deepEqual(repository.progress, [100]);
  });

  it('keeps details in order and cuts one that does not fit TEXT on a character boundary', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository);
    await progress.detail('first');
    await progress.detail('é'.repeat(40_000));
    await progress.detail('😀'.repeat(20_000));
    await progress.close();
    assert.equal(repository.details[0].details, 'first');
    for (const row of repository.details.slice(1)) {
      assert.ok(Buffer.byteLength(row.details) <= 65_535, `${Buffer.byteLength(row.details)} bytes`);
      assert.ok(!row.details.includes('\uFFFD'), 'no character is split');
    }
  });

  it('drops writes that fail and keeps going; reports after close are ignored', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository);
    repository.failing = true;
    progress.report(10);
    await progress.detail('lost');
    await progress.flush();
    repository.failing = false;
    progress.report(20);
    await progress.close();
    progress.report(90);
    await progress.detail('too late');
    await progress.flush();
    assert.deepEqual(repository.progress, [20]);
    assert.deepEqual(repository.details, []);
    assert.equal(logger.problems(/not saved: database away/).length, 1, 'the dropped write is logged once');
  });

  it('writes the start of a queued request with its next write, before its details and progress', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository);
    progress.started();
    await progress.detail('working');
    progress.report(30);
    await progress.flush();
    progress.report(60);
    await progress.close();
    assert.deepEqual(repository.writes, ['start', 'details', 'progress', 'progress']);
  });

  it('writes the start within the interval even when nothing else is reported', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository, 20);
    progress.started();
    const deadline = Date.now() + 5000;
    while (repository.writes.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(repository.writes, ['start']);
    await progress.close();
    assert.deepEqual(repository.writes, ['start'], 'written once');
  });

  it('drops a start not written yet when the run ends first: its final write ends it from queued', async () => {
    const repository = new RecordingRepository();
    const progress = buffer(repository);
    progress.started();
    await progress.detail('quick');
    await progress.close();
    progress.started();
    await progress.flush();
    assert.deepEqual(repository.writes, ['details'], 'no start written, before or after the end');
  });
});
