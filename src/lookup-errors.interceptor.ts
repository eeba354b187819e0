import {
  HttpException,
  Injectable,
  ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { catchError, type Observable } from 'rxjs';
import { BGRS_RETRY_AFTER_SECONDS } from './bgrs.constants.js';

/**
 * On the lookup routes, anything but an HTTP error comes from the database or the result store being away: the
 * client gets `503` with `Retry-After`, as at acceptance, rather than a bare `500`.
 */
@Injectable()
export class LookupErrorsInterceptor implements NestInterceptor {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((error: unknown) => {
        if (error instanceof HttpException) {
          throw error;
        }
        const response = context.switchToHttp().getResponse();
        this.adapterHost.httpAdapter.setHeader(response, 'Retry-After', String(BGRS_RETRY_AFTER_SECONDS));
        throw new ServiceUnavailableException('Background requests cannot be looked up right now; try again shortly.', {
          cause: error,
        });
      }),
    );
  }
}
