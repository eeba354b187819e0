import {
  LONGEST_RESULT_NAME,
  parseResultName,
  partialResultName,
  resultBaseName,
  resultName,
  type ParsedResultName,
} from '../result-names.js';

/**
 * The keys of a store's objects, all under its prefix: a result `<prefix>keep1m.bgrs.<rid>.result.<ext>`, its
 * partial object `….result.partial`, and the headers object `….result.headers.json` when its headers are too many
 * for its metadata. A location is `s3://<bucket>/<key>`.
 */
export class S3ResultKeys {
  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  /** The longest location this store can return. */
  get longestLocation(): string {
    return this.locationOf(`${this.prefix}${LONGEST_RESULT_NAME}`);
  }

  result(rid: string, contentType: string | null, attempt: number): string {
    return `${this.prefix}${resultName(rid, contentType, attempt)}`;
  }

  partial(rid: string, attempt: number): string {
    return `${this.prefix}${partialResultName(rid, attempt)}`;
  }

  headers(rid: string, attempt: number): string {
    return `${this.prefix}${resultBaseName(rid, attempt)}.headers.json`;
  }

  /** Every key of the objects of `rid`'s results, of any attempt, starts so. */
  ofRid(rid: string): string {
    return `${this.prefix}${resultBaseName(rid)}`;
  }

  /** Every key of a result object starts so. */
  get resultsPrefix(): string {
    return `${this.prefix}keep1m.bgrs.`;
  }

  locationOf(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** The rid and attempt of a result or partial object of this store, and which it is; undefined for any other key. */
  parse(key: string): ParsedResultName | undefined {
    return key.startsWith(this.prefix) ? parseResultName(key.slice(this.prefix.length)) : undefined;
  }

  /** The key of a committed result at `location`; undefined for a location of another store, bucket or prefix. */
  keyAt(location: string): string | undefined {
    const start = this.locationOf('');
    const key = location.startsWith(start) ? location.slice(start.length) : undefined;
    return key !== undefined && this.parse(key)?.committed ? key : undefined;
  }
}
