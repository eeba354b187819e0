import {
  HttpException,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { catchError, type Observable } from 'rxjs';
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

/** Applies `toLookupError` to the lookup routes. */
@Injectable()
export class BgrsLookupErrorsInterceptor implements NestInterceptor {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((error: unknown) => {
        throw toLookupError(error, context.switchToHttp().getResponse(), this.adapterHost);
      }),
    );
  }
}
