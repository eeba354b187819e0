import { HttpException } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import { serviceUnavailable } from '../util/service-unavailable.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/**
 * What a lookup answers for `error`: an HTTP error as it is; anything else comes from the database or the result
 * store being away, so `503` with `Retry-After`, as at acceptance, rather than a bare `500`.
 */
export function toLookupError(error: unknown, response: unknown, adapterHost: HttpAdapterHost): unknown {
  if (error instanceof HttpException) {
    return error;
  }
  return serviceUnavailable(adapterHost, response, BGRS_MESSAGES.lookupsUnavailable, error);
}

/**
 * Runs a lookup handler's `work`, its errors as `toLookupError` makes them. In the handler rather than as an
 * interceptor: one more interceptor is one more stage of Nest's RxJS pipeline on every lookup (bench row 6), and
 * rather than as an exception filter scoped to the controller, which would keep the host's global filters from
 * ever seeing a lookup's errors (Nest gives an error to the first filter that catches it).
 */
export async function mappingLookupErrors(
  response: unknown,
  adapterHost: HttpAdapterHost,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw toLookupError(error, response, adapterHost);
  }
}
