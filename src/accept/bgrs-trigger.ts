import { BadRequestException } from '@nestjs/common';
import { BGRS_NO_VALUES, BGRS_YES_VALUES } from '../bgrs.constants.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/** Where a request keeps the `bgrs` parameter taken out of its query (see `takeBgrsParameter`). */
export const BGRS_PARAMETER = Symbol('bgrs:parameter');

/** A request as the platforms give it before routing: Express's `req`, Fastify's `request`. */
interface IncomingRequest {
  url?: string;
  query?: unknown;
  [BGRS_PARAMETER]?: { bgrs: unknown };
}

/**
 * Takes `bgrs` out of the request's query before guards, pipes and the handler see it (a DTO with
 * `forbidNonWhitelisted` would refuse it, one with `transform` would carry it into the result), and keeps it aside
 * for the interceptor. Runs on every request, so most leave after one look at the URL; `%` may hide the name.
 */
export function takeBgrsParameter(request: IncomingRequest): void {
  const url = request.url ?? '';
  if (!url.includes('bgrs') && !url.includes('%')) {
    return;
  }
  const query = request.query;
  if (typeof query !== 'object' || query === null || !Object.hasOwn(query, 'bgrs')) {
    return;
  }
  const { bgrs, ...rest } = query as Record<string, unknown>;
  request[BGRS_PARAMETER] = { bgrs };
  // Express 5 parses `query` anew on each read (a getter): an own property shadows it. The parser's prototype
  // (none, for Node's querystring) is kept.
  Object.defineProperty(request, 'query', {
    value: Object.assign(Object.create(Object.getPrototypeOf(query)), rest),
    writable: true,
    configurable: true,
    enumerable: true,
  });
}

/** The `bgrs` parameter a request came with, as `takeBgrsParameter` kept it. */
export function bgrsParameterOf(request: IncomingRequest): { bgrs: unknown } | undefined {
  return request[BGRS_PARAMETER];
}

/** How a client asked for a background run (README, “Turning a request into a background request”). */
export interface BgrsTrigger {
  /** The request asks to run in the background. */
  background: boolean;
  /** It asked with `Prefer: respond-async`, which the answer acknowledges with `Preference-Applied`. */
  preferAsync: boolean;
  /** It asked with `bgrs`, not only with the preference (a hint a route that cannot may ignore). */
  explicit: boolean;
}

const NO_TRIGGER: BgrsTrigger = { background: false, preferAsync: false, explicit: false };

/** `Prefer` may list several preferences, each possibly with parameters (RFC 7240). */
function prefersRespondAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((value) =>
    value.split(',').some((preference) => preference.split(';')[0].trim().toLowerCase() === 'respond-async'),
  );
}

function invalid(value: string): BadRequestException {
  return new BadRequestException(BGRS_MESSAGES.invalidBgrs(value));
}

/** Reads the `bgrs` parameter and the `Prefer` header; a `bgrs` value that means neither yes nor no is a 400. */
export function readBgrsTrigger(
  query: Record<string, unknown> | undefined,
  prefer: string | string[] | undefined,
): BgrsTrigger {
  const preferAsync = prefersRespondAsync(prefer);
  const raw = query?.bgrs;
  if (raw === undefined) {
    return preferAsync ? { background: true, preferAsync, explicit: false } : NO_TRIGGER;
  }
  if (typeof raw !== 'string') {
    throw invalid(Array.isArray(raw) ? raw.join(',') : String(raw));
  }
  const value = raw.toLowerCase();
  if ((BGRS_YES_VALUES as readonly string[]).includes(value)) {
    return { background: true, preferAsync, explicit: true };
  }
  if ((BGRS_NO_VALUES as readonly string[]).includes(value)) {
    return NO_TRIGGER;
  }
  throw invalid(raw);
}
