import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const MiB = 1024 * 1024;

/**
 * MiB `index` of a generated body (the first `length` bytes of it): each byte depends on its position and on its
 * MiB, so a reordered, repeated or lost chunk shows in the bytes and in their hash.
 */
export function patternChunk(index: number, length = MiB): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  const base = index * MiB;
  for (let i = 0; i < length; i++) {
    chunk[i] = ((base + i) % 251) ^ (index & 0xff);
  }
  return chunk;
}

/** A body of `size` pattern bytes, made one MiB at a time as it is read: never held whole in memory. */
export function patternStream(size: number): Readable {
  let index = 0;
  return new Readable({
    read() {
      const offset = index * MiB;
      if (offset >= size) {
        this.push(null);
        return;
      }
      this.push(patternChunk(index++, Math.min(MiB, size - offset)));
    },
  });
}

/** The SHA-256 (hex) of `size` pattern bytes, made a MiB at a time. */
export function patternDigest(size: number): string {
  const hash = createHash('sha256');
  for (let index = 0, offset = 0; offset < size; index++, offset += MiB) {
    hash.update(patternChunk(index, Math.min(MiB, size - offset)));
  }
  return hash.digest('hex');
}
