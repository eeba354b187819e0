import { randomBytes } from 'node:crypto';

export const RID_PATTERN = /^[0-9a-f]{32}$/;
const RID_BYTES = 16;
/** Rids drawn from the CSPRNG at once: one call per 128 rids instead of one each (as `randomUUID` does). */
const POOL_SIZE = 128 * RID_BYTES;

let pool = Buffer.alloc(0);
let offset = 0;

/** A new request id: 128 bits from the CSPRNG as 32 lowercase hex characters. */
export function createRid(): string {
  if (offset === pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += RID_BYTES;
  return pool.toString('hex', offset - RID_BYTES, offset);
}

/** Whether `value` is a well-formed request id; only such a value may name a row or a file. */
export function isRid(value: unknown): value is string {
  return typeof value === 'string' && RID_PATTERN.test(value);
}

/** `value` itself when it is a request id; anything else throws before it can name a row, a file or a key. */
export function requireRid(value: string): string {
  if (!isRid(value)) {
    throw new Error(`Not a request id: ${JSON.stringify(value)}`);
  }
  return value;
}
