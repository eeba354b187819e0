import { BadRequestException } from '@nestjs/common';
import { BGRS_NO_VALUES, BGRS_YES_VALUES } from './bgrs.constants.js';

/** How a client asked for a background run (SPEC §2). */
export interface BgrsTrigger {
  /** The request asks to run in the background. */
  background: boolean;
  /** It asked with `Prefer: respond-async`, which the answer acknowledges with `Preference-Applied`. */
  preferAsync: boolean;
}

const NO_TRIGGER: BgrsTrigger = { background: false, preferAsync: false };

/** `Prefer` may list several preferences, each possibly with parameters (RFC 7240). */
function prefersRespondAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((value) =>
    value.split(',').some((preference) => preference.split(';')[0].trim().toLowerCase() === 'respond-async'),
  );
}

function invalid(value: string): BadRequestException {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return new BadRequestException(
    `Invalid bgrs value ${JSON.stringify(shown)}: use one of ${BGRS_YES_VALUES.join(', ')} ` +
      `to run in the background, or ${BGRS_NO_VALUES.filter(Boolean).join(', ')} (or empty) not to.`,
  );
}

/** Reads the `bgrs` query parameter and the `Prefer` header; a value that means neither yes nor no is a 400. */
export function readBgrsTrigger(
  query: Record<string, unknown> | undefined,
  prefer: string | string[] | undefined,
): BgrsTrigger {
  const preferAsync = prefersRespondAsync(prefer);
  const raw = query?.bgrs;
  if (raw === undefined) {
    return preferAsync ? { background: true, preferAsync } : NO_TRIGGER;
  }
  if (typeof raw !== 'string') {
    throw invalid(Array.isArray(raw) ? raw.join(',') : String(raw));
  }
  const value = raw.toLowerCase();
  if ((BGRS_YES_VALUES as readonly string[]).includes(value)) {
    return { background: true, preferAsync };
  }
  if ((BGRS_NO_VALUES as readonly string[]).includes(value)) {
    return NO_TRIGGER;
  }
  throw invalid(raw);
}
