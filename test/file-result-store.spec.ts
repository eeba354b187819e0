import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileResultStore } from '../src/index.js';
import { createRid } from '../src/util/rid.js';
import { describeResultStoreContract, entriesOf, storeResult } from './support/result-store-contract.js';

async function fileStore(directory: string): Promise<FileResultStore> {
  const store = new FileResultStore(directory);
  await store.onModuleInit();
  return store;
}

describeResultStoreContract('FileResultStore', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'bgrs-file-store-'));
  return {
    store: await fileStore(directory),
    newRid: async () => createRid(),
    close: () => rm(directory, { recursive: true, force: true }),
  };
});

describe('FileResultStore.list()', () => {
  let directory: string;
  let store: FileResultStore;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'bgrs-file-list-'));
    store = await fileStore(directory);
  });

  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('reports only files named as the store names them, not their headers files or anything else', async () => {
    const rid = createRid();
    const location = await storeResult(store, rid, Buffer.from('a,b'), 'text/csv', { 'x-a': '1' });
    const other = createRid();
    for (const name of [
      `keep1m.bgrs.${other}.result.exe`,
      `keep1m.bgrs.${other.toUpperCase()}.result.json`,
      `keep1m.bgrs.${other.slice(1)}.result.json`,
      `keep1m.bgrs.${other}.result.json.bak`,
      'notes.txt',
    ]) {
      await writeFile(join(directory, name), 'not a result');
    }
    await mkdir(join(directory, `keep1m.bgrs.${other}.result.json`));

    const entries = [];
    for await (const entry of store.list()) {
      entries.push(entry);
    }
    assert.deepEqual(
      entries.map(({ rid: listed, location: at, committed }) => ({ rid: listed, location: at, committed })),
      [{ rid, location, committed: true }],
    );
    assert.deepEqual(await entriesOf(store, other), []);
  });

  it('of a folder that does not exist yet is empty', async () => {
    const missing = new FileResultStore(join(directory, 'not-yet'));
    assert.deepEqual(await entriesOf(missing, createRid()), []);
  });
});
