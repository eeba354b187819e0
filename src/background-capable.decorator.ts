import { applyDecorators, SetMetadata } from '@nestjs/common';
import { BGRS_BACKGROUND_CAPABLE } from './bgrs.constants.js';
import { ApiBackgroundCapable } from './bgrs-openapi.js';

/**
 * Lets a route (or every route of a controller, inherited ones included) run in the background when the client
 * asks with `?bgrs=yes` or `Prefer: respond-async`. `@Sse()` routes never do: an event stream has no final response.
 */
export function BackgroundCapable(): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(BGRS_BACKGROUND_CAPABLE, true), ApiBackgroundCapable()) as ClassDecorator &
    MethodDecorator;
}
