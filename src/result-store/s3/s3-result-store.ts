import type { OnApplicationShutdown } from '@nestjs/common';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { BGRS_RESULT_MAX_LENGTH } from '../../bgrs.constants.js';
import type {
  BgrsResultStore,
  BgrsResultWriter,
  BgrsStoredEntry,
  BgrsStoredResult,
} from '../bgrs-result-store.interface.js';
import { s3ClientFrom } from './s3-client.js';
import { S3Objects } from './s3-objects.js';
import { headersOf } from './s3-result-headers.js';
import { S3ResultKeys } from './s3-result-keys.js';
import { S3ResultWriter, type S3ResultTarget } from './s3-result-writer.js';
import { loadS3Sdk } from './s3-sdk.js';

const MiB = 1024 * 1024;
/** S3's smallest part of a multipart upload (but the last). */
const MIN_PART_SIZE = 5 * MiB;

export interface S3ResultStoreOptions {
  /** The bucket the results go to; it must exist. */
  bucket: string;
  /** Put before every key as it is, e.g. `bgrs/`. Default none. */
  prefix?: string;
  /**
   * A ready client, used as it is (its timeouts and retries are the host's, and the store never destroys it), or
   * the configuration of one that the store makes, with `S3_CLIENT_DEFAULTS` for what it leaves out, and destroys on
   * application shutdown. For MinIO, Ceph, R2 or s3rver: `endpoint`, `region`, `credentials`, and for most of
   * them `forcePathStyle: true`; a server that refuses the SDK's default checksums (older S3-compatible ones) needs
   * `requestChecksumCalculation: 'WHEN_REQUIRED'`.
   */
  client: S3Client | S3ClientConfig;
  /**
   * Bytes a part of a multipart upload, and so the most of a body held in memory before its upload starts (a
   * body within it is put with one request). Default 5 MiB, S3's smallest part.
   */
  partSize?: number;
  /**
   * Parts uploaded at once. A large result's writer holds these parts and the one it fills: with the defaults, a
   * 256 MiB result was written with about 50 MiB more RSS, with 8 MiB parts four at once about 100 MiB (and faster
   * over a slow link). Default 2.
   */
  queueSize?: number;
}

/**
 * Keeps results in a bucket of S3 or of an S3-compatible object store (MinIO, Ceph, R2), so that any instance
 * serves any result: `<prefix>keep1m.bgrs.<rid>.result.<ext>`, location `s3://<bucket>/<key>`.
 *
 * - Atomic: nothing is at a result's key until commit, which makes the whole object appear with one request; a
 *   body larger than one part is streamed into a multipart upload of `….result.partial` and copied to its key at
 *   commit (server-side, so results are limited to 5 GiB, the most S3 copies at once). No conditional writes.
 * - The Content-Type is the object's; the headers are URI-encoded JSON in `x-amz-meta-bgrs-headers`, or, when
 *   they are too many for S3's 2 KB of metadata, in `….result.headers.json`.
 * - A discarded or failed upload is aborted. Uploads left by a process that died are aborted by `abandon()`
 *   where the server lists them (ListMultipartUploads; s3rver does not): add a lifecycle rule
 *   `AbortIncompleteMultipartUpload` to the bucket all the same.
 * - The AWS SDK (`@aws-sdk/client-s3`, `@aws-sdk/lib-storage`) is an optional peer dependency, loaded when the
 *   store is made.
 */
export class S3ResultStore implements BgrsResultStore, OnApplicationShutdown {
  private readonly target: S3ResultTarget;
  private readonly client: S3Client;
  private readonly ownsClient: boolean;

  constructor(options: S3ResultStoreOptions) {
    const { bucket, prefix = '', client, partSize = 5 * MiB, queueSize = 2 } = options ?? {};
    if (typeof bucket !== 'string' || bucket === '' || bucket.includes('/')) {
      throw new Error(`S3ResultStore: bucket must be a bucket name, not ${JSON.stringify(bucket)}`);
    }
    if (typeof prefix !== 'string') {
      throw new Error(`S3ResultStore: prefix must be a string, not ${JSON.stringify(prefix)}`);
    }
    if (!client || typeof client !== 'object') {
      throw new Error('S3ResultStore: client must be an S3Client or an S3ClientConfig');
    }
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw new Error(`S3ResultStore: partSize must be a whole number of bytes, at least ${MIN_PART_SIZE} (5 MiB)`);
    }
    if (!Number.isSafeInteger(queueSize) || queueSize < 1) {
      throw new Error('S3ResultStore: queueSize must be a whole number, at least 1');
    }
    const keys = new S3ResultKeys(bucket, prefix);
    if (keys.longestLocation.length > BGRS_RESULT_MAX_LENGTH) {
      throw new Error(
        `S3ResultStore: bucket and prefix are too long: a location (${keys.longestLocation}) must fit the ` +
          `${BGRS_RESULT_MAX_LENGTH} characters of the result column`,
      );
    }
    const sdk = loadS3Sdk();
    ({ client: this.client, owned: this.ownsClient } = s3ClientFrom(sdk, client));
    const objects = new S3Objects(sdk, this.client, bucket);
    this.target = {
      objects,
      keys,
      partSize,
      queueSize,
      removePartial: (rid, attempt) => this.removePartial(rid, attempt),
    };
  }

  create(rid: string, attempt = 1): BgrsResultWriter {
    return new S3ResultWriter(this.target, rid, attempt);
  }

  async open(location: string): Promise<BgrsStoredResult> {
    const { objects, keys } = this.target;
    const key = keys.keyAt(location);
    if (!key) {
      throw new Error(`Not a result location of this S3ResultStore: ${JSON.stringify(location)}`);
    }
    const object = await objects.get(key);
    const { rid, attempt } = keys.parse(key)!;
    try {
      const headers = await headersOf(object.metadata, () => objects.text(keys.headers(rid, attempt)));
      return { body: object.body, size: object.size, headers };
    } catch (error) {
      object.body.destroy();
      throw error;
    }
  }

  /** A location of another store (or bucket, or prefix) is left alone: it is not this store's to delete. */
  async remove(location: string): Promise<void> {
    const { objects, keys } = this.target;
    const key = keys.keyAt(location);
    if (key) {
      const { rid, attempt } = keys.parse(key)!;
      await objects.delete(key);
      await objects.delete(keys.headers(rid, attempt));
    }
  }

  /**
   * Aborts the multipart uploads in progress of the rid's results, of any attempt (where the server lists them),
   * and deletes their partial objects and the headers objects of results that were never committed. Only ever
   * called for a request that failed, whose result nobody will read.
   */
  async abandon(rid: string): Promise<void> {
    await this.removePartial(rid);
    const { objects, keys } = this.target;
    for await (const { key } of objects.list(keys.ofRid(rid))) {
      const name = keys.parse(key);
      if (name && !name.committed) {
        await this.removePartial(rid, name.attempt);
      }
    }
  }

  /** What one attempt's result of `rid` left besides a committed object: its upload, partial and headers objects. */
  private async removePartial(rid: string, attempt = 1): Promise<void> {
    const { objects, keys } = this.target;
    const partial = keys.partial(rid, attempt);
    await objects.abortUploads(partial);
    await Promise.all([objects.delete(partial), objects.delete(keys.headers(rid, attempt))]);
  }

  /** The result and partial objects under the prefix (multipart uploads in progress are no objects yet). */
  async *list(): AsyncIterable<BgrsStoredEntry> {
    const { objects, keys } = this.target;
    for await (const object of objects.list(keys.resultsPrefix)) {
      const name = keys.parse(object.key);
      if (name) {
        yield {
          rid: name.rid,
          location: keys.locationOf(object.key),
          modifiedAt: object.modifiedAt,
          committed: name.committed,
        };
      }
    }
  }

  onApplicationShutdown(): void {
    if (this.ownsClient) {
      this.client.destroy();
    }
  }
}
