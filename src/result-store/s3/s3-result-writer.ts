import { PassThrough, type Writable } from 'node:stream';
import type { BgrsResultHeaders } from '../bgrs-result-store.interface.js';
import { SpillingWriter, type WriteCallback } from '../spilling-writer.js';
import { StagedResultWriter } from '../staged-result-writer.js';
import type { S3Objects } from './s3-objects.js';
import { storedHeaders } from './s3-result-headers.js';
import type { S3ResultKeys } from './s3-result-keys.js';

/** The largest object S3 copies in one request (CopyObject), so the largest result this store keeps. */
export const S3_MAX_RESULT_BYTES = 5 * 1024 ** 3;

/** What a writer needs of its store. */
export interface S3ResultTarget {
  objects: S3Objects;
  keys: S3ResultKeys;
  partSize: number;
  queueSize: number;
  /** Removes what one attempt's result of `rid` left besides a committed object (see `S3ResultStore.abandon`). */
  removePartial(rid: string, attempt: number): Promise<void>;
}

/**
 * The body of a result: up to one part is held in memory, and a body that ends within it is written at commit by
 * one PutObject; a larger one streams, as it comes, into a multipart upload of the partial object.
 */
class S3ResultBody extends SpillingWriter {
  /** All of a body that stayed within one part. */
  held: Buffer | undefined;
  /** The upload of the partial object, once the body outgrew one part. */
  uploaded: Promise<unknown> | undefined;
  private written = 0;

  constructor(
    private readonly target: S3ResultTarget,
    private readonly partialKey: string,
  ) {
    super(target.partSize);
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: WriteCallback): void {
    this.written += chunk.length;
    if (this.written > S3_MAX_RESULT_BYTES) {
      callback(
        new Error(`S3ResultStore keeps results up to ${S3_MAX_RESULT_BYTES} bytes (the most S3 copies at once)`),
      );
      return;
    }
    super._write(chunk, encoding, callback);
  }

  protected override spill(): Writable {
    const stream = new PassThrough();
    const { objects, partSize, queueSize } = this.target;
    this.uploaded = objects.upload(this.partialKey, stream, partSize, queueSize);
    // An upload that failed takes no more of the body: the writer fails with it (a finished one fails its commit).
    this.uploaded.catch((error: Error) => {
      if (!this.writableFinished) {
        this.destroy(error);
      }
    });
    return stream;
  }

  /**
   * The partial object's stream fails when its upload stops reading it because a request failed (the SDK's Upload
   * then destroys it with a bare AbortError): the body fails with the upload's own error, which says why.
   */
  protected override spillFailed(error: Error): void {
    void this.uploaded!.then(
      () => this.destroy(error),
      (uploadError: Error) => this.destroy(uploadError),
    );
  }

  protected override keep(body: Buffer, callback: WriteCallback): void {
    this.held = body;
    callback();
  }
}

/**
 * Writes a result to S3. Nothing is at the result's key until commit: a small body is put there whole; a large one
 * was uploaded to the partial object, which commit copies to the result's key (server-side) with the Content-Type
 * and headers that only commit knows, and then deletes. Either is one request that makes the whole object
 * appear at once.
 */
export class S3ResultWriter extends StagedResultWriter {
  readonly body: S3ResultBody;
  private readonly partialKey: string;
  /** What `publish()` got as far as trying to write, for `cleanUp()` after it failed. */
  private published: { key?: string; headers?: boolean } = {};

  constructor(
    private readonly target: S3ResultTarget,
    private readonly rid: string,
    private readonly attempt: number,
  ) {
    super();
    // The first key named from the rid, which validates it: a bad one throws here, before any request.
    this.partialKey = target.keys.partial(rid, attempt);
    this.body = new S3ResultBody(target, this.partialKey);
  }

  protected override async publish(contentType: string | null, headers: BgrsResultHeaders): Promise<string> {
    const { objects, keys } = this.target;
    const key = keys.result(this.rid, contentType, this.attempt);
    const stored = storedHeaders(headers);
    if (stored.object !== undefined) {
      this.published.headers = true;
      await objects.put(keys.headers(this.rid, this.attempt), stored.object, 'application/json');
    }
    this.published.key = key;
    if (this.body.held) {
      await objects.put(key, this.body.held, contentType ?? undefined, stored.metadata);
    } else {
      await this.body.uploaded;
      await objects.copy(this.partialKey, key, contentType ?? undefined, stored.metadata);
      // The result is in place; a partial object left by a failed delete is found by `list()` as partial.
      await objects.delete(this.partialKey).catch(() => undefined);
    }
    return keys.locationOf(key);
  }

  /**
   * The upload is aborted by destroying the body (the SDK's Upload sends AbortMultipartUpload once its parts in
   * flight are done); then whatever may have been written is deleted, the result's key too when a publish request
   * failed without an answer (it may have landed).
   */
  protected override async cleanUp(): Promise<void> {
    const { objects } = this.target;
    if (!this.body.uploaded && !this.published.key) {
      return;
    }
    await this.body.uploaded?.catch(() => undefined);
    const removals = await Promise.allSettled([
      this.body.uploaded || this.published.headers ? this.target.removePartial(this.rid, this.attempt) : undefined,
      this.published.key ? objects.delete(this.published.key) : undefined,
    ]);
    const failure = removals.find((removal) => removal.status === 'rejected');
    if (failure) {
      throw failure.reason;
    }
  }
}
