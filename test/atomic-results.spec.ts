/**
 * Results are atomic (README, “Under failure”): while a large StreamableFile result (64 MiB, a known byte
 * pattern) is being written, a reader polling `/bgrs/<rid>/result` sees 409 until the whole file is in place, and
 * never a truncated body; the result exists only under a temporary name until it is complete.
 */
import 'reflect-metadata';
import { Controller, Get, StreamableFile } from '@nestjs/common';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BackgroundCapable } from '../src/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { KeepingLogger } from './support/keeping-logger.js';
import { Gates } from './support/gate.js';
import { lookup, submit, waitForStatus } from './support/http.js';
import { streamRequest } from './support/raw-http.js';
import { eventually } from './support/wait.js';

const MiB = 1024 * 1024;
const CHUNKS = 64;
const SIZE = CHUNKS * MiB;
/** The generator stops here until the test has looked at the half-written result. */
const HELD_AT_CHUNK = 32;

/** Byte `offset` of the result: depends on the position within the chunk and on the chunk, so a reordered, repeated or missing chunk shows. */
function patternByte(offset: number): number {
  return ((offset % 251) ^ Math.floor(offset / MiB)) & 0xff;
}

function chunk(index: number): Buffer {
  const buffer = Buffer.allocUnsafe(MiB);
  const base = index * MiB;
  for (let i = 0; i < MiB; i++) {
    buffer[i] = ((base + i) % 251) ^ (index & 0xff);
  }
  return buffer;
}

/** Checks a body against the pattern as it streams in; `mismatch` is the first wrong offset. */
class PatternCheck {
  offset = 0;
  mismatch: number | undefined;

  push(data: Buffer): void {
    if (this.mismatch === undefined) {
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== patternByte(this.offset + i)) {
          this.mismatch = this.offset + i;
          break;
        }
      }
    }
    this.offset += data.length;
  }
}

const gates = new Gates();

@Controller('big')
class BigController {
  @Get('file')
  @BackgroundCapable()
  file(): StreamableFile {
    async function* produce() {
      for (let index = 0; index < CHUNKS; index++) {
        if (index === HELD_AT_CHUNK) {
          await gates.wait('half');
        }
        yield chunk(index);
        // Slowly: other requests (the polling reader) get their turns between chunks.
        await nextTurn();
      }
    }
    return new StreamableFile(Readable.from(produce()), { type: 'application/octet-stream' });
  }

  /** A stream that breaks after 8 MiB, once the test has seen the half-written result. */
  @Get('broken')
  @BackgroundCapable()
  broken(): StreamableFile {
    async function* produce() {
      for (let index = 0; index < CHUNKS; index++) {
        if (index === 8) {
          await gates.wait('break');
          throw new Error('the source of the result broke down');
        }
        yield chunk(index);
        await nextTurn();
      }
    }
    return new StreamableFile(Readable.from(produce()), { type: 'application/octet-stream' });
  }
}

describe('atomic results', () => {
  const logger = new KeepingLogger(true);
  let testApp: TestApp;
  let port: number;

  before(async () => {
    testApp = await startTestApp({ controllers: [BigController], logger });
    port = testApp.port;
  });

  after(async () => {
    gates.openAll();
    await testApp?.close();
  });

  it('a reader polling /result sees 409 until the whole 64 MiB file is in place, never a truncated body', async () => {
    const { resultDir } = testApp;
    const rid = await submit(testApp.http, { path: '/big/file' });
    // The result under its final name (`.partial` is the temporary one).
    const finalName = new RegExp(`^keep1m\\.bgrs\\.${rid}\\.result\\.(?!partial$)[a-z]+$`);
    const partial = join(resultDir, `keep1m.bgrs.${rid}.result.partial`);

    // The reader: polls /result until it gets the result, checking every answer.
    const answers: Array<{
      status: number;
      length: number;
      mismatch?: number;
      statusName?: string;
      contentType?: string;
    }> = [];
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const check = new PatternCheck();
        const answer = await streamRequest(port, `/bgrs/${rid}/result`, (data) => check.push(data));
        if (answer.status === 200) {
          answers.push({
            status: 200,
            length: answer.length,
            mismatch: check.mismatch,
            contentType: String(answer.headers['content-type']),
          });
          return;
        }
        let statusName: string | undefined;
        try {
          statusName = JSON.parse(answer.text).status_name;
        } catch {
          statusName = `not JSON: ${answer.text.slice(0, 200)}`;
        }
        answers.push({
          status: answer.status,
          length: answer.length,
          statusName,
          contentType: String(answer.headers['content-type']),
        });
        if (answer.status !== 409) {
          return;
        }
      }
    })();

    // The watcher: whenever the final file name is seen, the file must be whole already.
    const finalSightings: number[] = [];
    const watcher = (async () => {
      while (!stop) {
        for (const file of await readdir(resultDir)) {
          if (finalName.test(file)) {
            finalSightings.push((await stat(join(resultDir, file)).catch(() => ({ size: -1 }))).size);
          }
        }
        await nextTurn();
      }
    })();

    try {
      // Half of the body is written, and the producer is held: the result exists only under its temporary name.
      await eventually(
        'half of the result to be written',
        async () => (await stat(partial).catch(() => undefined))?.size === HELD_AT_CHUNK * MiB || undefined,
      );
      const files = (await readdir(resultDir)).filter((file) => file.includes(rid));
      assert.deepEqual(
        files,
        [`keep1m.bgrs.${rid}.result.partial`],
        'only the temporary file exists while the result is written',
      );
      assert.equal((await lookup(testApp.http, rid)).status_name, 'processing');
      await eventually(
        'the reader to have been answered while the result is half written',
        async () => answers.length >= 3 || undefined,
      );
      assert.ok(
        answers.every((answer) => answer.status === 409),
        `only 409s so far: ${JSON.stringify(answers.slice(0, 5))}`,
      );

      gates.open('half');
      await eventually(
        'the reader to get the result',
        async () => answers.some((answer) => answer.status !== 409) || undefined,
        { deadlineMs: 60_000 },
      );
    } finally {
      stop = true;
      gates.openAll();
      await Promise.allSettled([reader, watcher]);
    }
    await reader; // rethrows a reader that failed (e.g. an answer cut short)

    const record = await waitForStatus(testApp.http, rid, 'finished');
    const last = answers.at(-1)!;
    const before = answers.slice(0, -1);
    assert.ok(before.length >= 3);
    for (const answer of before) {
      assert.equal(answer.status, 409, `before the result is complete the answer is 409: ${JSON.stringify(answer)}`);
      assert.match(answer.contentType ?? '', /^application\/json/);
      assert.ok(
        ['processing'].includes(answer.statusName ?? ''),
        `409 names the current status: ${JSON.stringify(answer)}`,
      );
    }
    assert.equal(last.status, 200, `the reader ends with the result: ${JSON.stringify(last)}`);
    assert.equal(last.length, SIZE, 'the body is the whole result, never a truncated one');
    assert.equal(last.mismatch, undefined, `the body has the produced bytes (first wrong offset ${last.mismatch})`);
    assert.equal(last.contentType, 'application/octet-stream');

    assert.ok(
      finalSightings.every((size) => size === SIZE),
      `the final file is only ever seen whole: sizes seen ${JSON.stringify([...new Set(finalSightings)])}`,
    );
    const finalFile = join(resultDir, `keep1m.bgrs.${rid}.result.bin`);
    assert.equal(record.result, finalFile);
    assert.equal((await stat(finalFile)).size, SIZE);
    const leftovers = (await readdir(resultDir)).filter((file) => file.includes(rid) && file.includes('partial'));
    assert.deepEqual(leftovers, [], 'no temporary file is left');
  });

  it('a stream that breaks half way never becomes a result: the request fails, /result stays 409, no file is left', async () => {
    const { resultDir } = testApp;
    const rid = await submit(testApp.http, { path: '/big/broken' });
    const partial = join(resultDir, `keep1m.bgrs.${rid}.result.partial`);
    await eventually(
      '8 MiB of the result to be written',
      async () => (await stat(partial).catch(() => undefined))?.size === 8 * MiB || undefined,
    );
    gates.open('break');
    const record = await eventually(`${rid} to end`, async () => {
      const current = await lookup(testApp.http, rid);
      return ['processing', 'queued', 'created'].includes(current.status_name) ? undefined : current;
    });
    assert.equal(record.status_name, 'failed', `no whole response could be stored: ${JSON.stringify(record)}`);
    assert.equal(record.result, null);
    const check = new PatternCheck();
    const answer = await streamRequest(port, `/bgrs/${rid}/result`, (data) => check.push(data));
    assert.equal(answer.status, 409, `never the truncated body: ${answer.status}, ${answer.length} bytes`);
    assert.equal(JSON.parse(answer.text).status_name, 'failed');
    assert.deepEqual(
      (await readdir(resultDir)).filter((file) => file.includes(rid)),
      [],
      'nothing of it is left in resultDir',
    );
    assert.ok(
      logger.problems(new RegExp(`${rid}: No result could be stored: the source of the result broke down`)).length > 0,
      `the failure is logged with its reason: ${JSON.stringify(logger.problems())}`,
    );
  });
});
