import { ServiceUnavailableException } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import { BGRS_RETRY_AFTER_SECONDS } from '../bgrs.constants.js';

/** A `503` that tells the client when to come back (`Retry-After`), at acceptance and on lookups alike. */
export function serviceUnavailable(
  adapterHost: HttpAdapterHost,
  response: unknown,
  message: string,
  cause?: unknown,
): ServiceUnavailableException {
  adapterHost.httpAdapter.setHeader(response, 'Retry-After', String(BGRS_RETRY_AFTER_SECONDS));
  return new ServiceUnavailableException(message, cause === undefined ? undefined : { cause });
}
