import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { S3Sdk } from './s3-sdk.js';

/** An object as `list()` gives it. */
export interface S3ObjectSummary {
  key: string;
  modifiedAt: Date;
}

/** What `get()` gives of an object: its body as a stream. */
export interface S3ObjectContent {
  body: Readable;
  size: number;
  metadata: Record<string, string> | undefined;
}

/** Whether an S3 error is `name`, or the HTTP status that S3-compatible servers send for it. */
function isS3Error(error: unknown, name: string, status: number): boolean {
  const failure = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return failure?.name === name || failure?.$metadata?.httpStatusCode === status;
}

/** The requests the store makes to its bucket, each one SDK call. */
export class S3Objects {
  constructor(
    private readonly sdk: S3Sdk,
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async put(
    key: string,
    body: Buffer | string,
    contentType?: string,
    metadata?: Record<string, string>,
  ): Promise<void> {
    await this.client.send(
      new this.sdk.s3.PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        Metadata: metadata,
      }),
    );
  }

  /** Rejects when the object is missing (`NoSuchKey`). */
  async get(key: string): Promise<S3ObjectContent> {
    const object = await this.client.send(new this.sdk.s3.GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return { body: object.Body as Readable, size: object.ContentLength ?? 0, metadata: object.Metadata };
  }

  async text(key: string): Promise<string> {
    const object = await this.client.send(new this.sdk.s3.GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return object.Body!.transformToString('utf8');
  }

  /** A server-side copy (objects up to 5 GiB) that sets the copy's Content-Type and metadata. */
  async copy(from: string, key: string, contentType?: string, metadata?: Record<string, string>): Promise<void> {
    await this.client.send(
      new this.sdk.s3.CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        ContentType: contentType,
        Metadata: metadata,
      }),
    );
  }

  /** An object that is already gone is no error (S3 answers 204 either way). */
  async delete(key: string): Promise<void> {
    await this.client.send(new this.sdk.s3.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** The objects whose keys start with `prefix`, a page of ListObjectsV2 at a time. */
  async *list(prefix: string): AsyncIterable<S3ObjectSummary> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new this.sdk.s3.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        yield { key: object.Key!, modifiedAt: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Streams `body` into the object `key` as a multipart upload (`partSize` bytes a part, `queueSize` at once): the
   * object appears only when the last part is in and the upload completed. When the body fails or an upload request
   * does, the upload is aborted (AbortMultipartUpload) before the promise rejects.
   */
  upload(key: string, body: Readable, partSize: number, queueSize: number): Promise<unknown> {
    return new this.sdk.storage.Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      partSize,
      queueSize,
    }).done();
  }

  /**
   * Aborts the multipart uploads still in progress to `key`, which a writer that died left (their parts are stored,
   * and billed, until then). Servers without ListMultipartUploads (s3rver answers 501) are left as they are: a
   * bucket lifecycle rule (AbortIncompleteMultipartUpload) is the way to clean those.
   */
  async abortUploads(key: string): Promise<void> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client
        .send(
          new this.sdk.s3.ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: key,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        )
        .catch((error: unknown) => {
          if (isS3Error(error, 'NotImplemented', 501)) {
            return undefined;
          }
          throw error;
        });
      for (const upload of page?.Uploads ?? []) {
        if (upload.Key === key) {
          await this.client
            .send(
              new this.sdk.s3.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.UploadId }),
            )
            .catch((error: unknown) => {
              // Completed or aborted meanwhile.
              if (!isS3Error(error, 'NoSuchUpload', 404)) {
                throw error;
              }
            });
        }
      }
      [keyMarker, uploadIdMarker] = page?.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [];
    } while (keyMarker);
  }
}
