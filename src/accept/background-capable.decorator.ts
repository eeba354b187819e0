import { applyDecorators, SetMetadata } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { BGRS_BACKGROUND_CAPABLE } from '../bgrs.constants.js';
import { ApiBackgroundCapable } from '../openapi/bgrs-openapi.decorators.js';
import { standInFor, type RouteHandler } from './held-handler.js';

/**
 * Gives a controller own methods for the routes it inherits, calling the base's: `@nestjs/swagger`'s class-level
 * decorators (ours, and the host's above it) document only a class's own methods. A base shared with other
 * controllers stays as it is.
 */
function ownInheritedRoutes(controller: Function): void {
  const prototype = controller.prototype as Record<string, RouteHandler>;
  for (
    let base = Object.getPrototypeOf(prototype);
    base && base !== Object.prototype;
    base = Object.getPrototypeOf(base)
  ) {
    for (const name of Object.getOwnPropertyNames(base)) {
      const inherited = Object.getOwnPropertyDescriptor(base, name)!.value;
      if (
        Object.hasOwn(prototype, name) ||
        typeof inherited !== 'function' ||
        !Reflect.hasMetadata(PATH_METADATA, inherited)
      ) {
        continue;
      }
      const route = standInFor(inherited, function (this: unknown, ...args: unknown[]) {
        return inherited.apply(this, args);
      });
      Object.defineProperty(prototype, name, { value: route, writable: true, configurable: true, enumerable: false });
    }
  }
}

/** How a background-capable route runs in queue mode. */
export interface BackgroundCapableOptions {
  /** Run through the queue when queue mode is on (default true); false keeps the route in the accepting process. */
  queue?: boolean;
  /**
   * A run cut by the death of its worker is run again (default true); false fails the request instead, for a
   * handler that must not run twice.
   */
  rerun?: boolean;
}

/**
 * Lets a route (or every route of a controller, inherited ones included) run in the background when the client
 * asks with `?bgrs=yes` or `Prefer: respond-async`. `@Sse()` routes never do: an event stream has no final response.
 */
export function BackgroundCapable(options: BackgroundCapableOptions = {}): ClassDecorator & MethodDecorator {
  const mark = applyDecorators(SetMetadata(BGRS_BACKGROUND_CAPABLE, { ...options }), ApiBackgroundCapable());
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (!descriptor) {
      ownInheritedRoutes(target as Function);
    }
    mark(target, key!, descriptor!);
  }) as ClassDecorator & MethodDecorator;
}
