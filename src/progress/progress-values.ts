import { BGRS_DETAILS_MAX_BYTES } from '../bgrs.constants.js';

/** `percent` as progress: clamped to 0…100, rounded to hundredths, never below `current`; NaN keeps `current`. */
export function clampPercent(percent: number, current: number): number {
  if (Number.isNaN(percent)) {
    return current;
  }
  const rounded = Math.round(Math.min(100, Math.max(0, percent)) * 100) / 100;
  return Math.max(rounded, current);
}

/** Cuts text to what a TEXT column holds, on a character boundary. */
export function fitDetails(text: string): string {
  const value = String(text);
  if (value.length * 3 <= BGRS_DETAILS_MAX_BYTES) {
    return value;
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= BGRS_DETAILS_MAX_BYTES) {
    return value;
  }
  // Dropping a split last character: a decoder turns it into U+FFFD, which is 3 bytes again.
  return bytes
    .subarray(0, BGRS_DETAILS_MAX_BYTES - 3)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}
