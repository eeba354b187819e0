import { randomBytes } from 'node:crypto';

const RID_PATTERN = /^[0-9a-f]{32}$/;

/** A new request id: 128 bits from the CSPRNG as 32 lowercase hex characters. */
export function createRid(): string {
  return randomBytes(16).toString('hex');
}

/** Whether `value` is a well-formed request id; only such a value may name a row or a file. */
export function isRid(value: unknown): value is string {
  return typeof value === 'string' && RID_PATTERN.test(value);
}
