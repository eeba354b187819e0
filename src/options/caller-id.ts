import { BGRS_OWNER_MAX_BYTES, BGRS_USER_ID_MAX } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from './bgrs-options.js';

/**
 * A caller as the tables keep it: a number is an id that `bgrs_requests.user_id` (INT UNSIGNED) holds; a string is
 * any other id, kept byte for byte in `bgrs_owners`.
 */
export type BgrsCallerId = number | string;

/** Canonical decimal only: `"07"` or `" 7"` are other users than `7` in a host whose ids are strings. */
const USER_ID_TEXT = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * What the host's `userId` returned, as the tables keep it, or null for no caller. A whole number from 0 to
 * 4294967295, or such a number written in canonical decimal, is that number (`7` and `"7"` are one user). Any other
 * number or string is text, compared exactly (`"Alice"`, `"alice"` and `"alice "` are three users). No caller: null,
 * undefined, `""`, anything but a number or a string, and text that cannot be kept as it is (over 255 bytes of
 * UTF-8, or not well-formed Unicode, which UTF-8 cannot tell apart from other text).
 */
export function toCallerId(id: unknown): BgrsCallerId | null {
  if (typeof id === 'number') {
    if (Number.isInteger(id) && id >= 0 && id <= BGRS_USER_ID_MAX) {
      return id;
    }
    return Number.isFinite(id) ? textId(String(id)) : null;
  }
  if (typeof id !== 'string') {
    return null;
  }
  return USER_ID_TEXT.test(id) && Number(id) <= BGRS_USER_ID_MAX ? Number(id) : textId(id);
}

function textId(id: string): string | null {
  const bytes = Buffer.from(id, 'utf8');
  return id !== '' && bytes.length <= BGRS_OWNER_MAX_BYTES && bytes.toString('utf8') === id ? id : null;
}

/** The caller of a request as the tables keep it (see `toCallerId`), or null for none. */
export function callerIdOf(options: ResolvedBgrsOptions, request: unknown): BgrsCallerId | null {
  return toCallerId(options.userId(request));
}
