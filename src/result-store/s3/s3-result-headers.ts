import type { BgrsResultHeaders } from '../bgrs-result-store.interface.js';

/** The user metadata (`x-amz-meta-bgrs-headers`) that holds a result's headers, or says where they are. */
const METADATA_KEY = 'bgrs-headers';
/** Its value when the headers are too many for the metadata and are kept in an object of their own. */
const IN_HEADERS_OBJECT = 'object';
/**
 * S3 allows 2 KB of user metadata per object (keys and values); a header set whose encoding is longer than this goes
 * to an object of its own. Typical headers (a Content-Disposition, a few custom ones) take a few hundred bytes.
 */
const METADATA_LIMIT = 1024;

/** How a result's headers are stored: in its metadata, or (`object`) as JSON in an object beside it. */
export interface StoredHeaders {
  metadata: Record<string, string>;
  object?: string;
}

/**
 * Headers go as URI-encoded JSON: metadata must be US-ASCII, and servers may fold the whitespace of a header
 * value, which would change a value like `attachment; filename="a  b.csv"`.
 */
export function storedHeaders(headers: BgrsResultHeaders): StoredHeaders {
  if (Object.keys(headers).length === 0) {
    return { metadata: {} };
  }
  const json = JSON.stringify(headers);
  const encoded = encodeURIComponent(json);
  return encoded.length <= METADATA_LIMIT
    ? { metadata: { [METADATA_KEY]: encoded } }
    : { metadata: { [METADATA_KEY]: IN_HEADERS_OBJECT }, object: json };
}

/** The headers of a result from its metadata, reading the object beside it when they are there. */
export async function headersOf(
  metadata: Record<string, string> | undefined,
  readObject: () => Promise<string>,
): Promise<BgrsResultHeaders> {
  const value = metadata?.[METADATA_KEY];
  if (value === undefined) {
    return {};
  }
  return JSON.parse(value === IN_HEADERS_OBJECT ? await readObject() : decodeURIComponent(value)) as BgrsResultHeaders;
}
