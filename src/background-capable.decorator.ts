import { SetMetadata } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { BGRS_BACKGROUND_CAPABLE } from './bgrs.constants.js';
import { ApiBackgroundCapable } from './bgrs-openapi.js';
import { backgroundRunStorage } from './background-run.js';

type Handler = (...args: unknown[]) => unknown;

/**
 * Holds a route handler at its door during a background request: Nest calls the handler once guards and pipes
 * have passed, which is when the request can be accepted; its body runs only after the early `202` is out.
 * Outside a background request it calls straight through.
 */
function holdAtDoor(handler: Handler): Handler {
  const held = function (this: unknown, ...args: unknown[]): unknown {
    const door = backgroundRunStorage.getStore()?.arrive(this as object);
    return door ? door.then(() => handler.apply(this, args)) : handler.apply(this, args);
  };
  // Route decorators applied before this one put their metadata on the original function.
  for (const key of Reflect.getMetadataKeys(handler)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, handler), held);
  }
  Object.defineProperty(held, 'name', { value: handler.name });
  return held;
}

/**
 * Lets a route (or every route of a controller) run in the background when the client asks with `?bgrs=yes`
 * or `Prefer: respond-async`.
 */
export function BackgroundCapable(): ClassDecorator & MethodDecorator {
  return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor): any => {
    if (descriptor) {
      descriptor.value = holdAtDoor(descriptor.value);
      SetMetadata(BGRS_BACKGROUND_CAPABLE, true)(target, key!, descriptor);
      ApiBackgroundCapable()(target, key!, descriptor);
      return descriptor;
    }
    const prototype = (target as Function).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method = Object.getOwnPropertyDescriptor(prototype, name)!;
      if (typeof method.value === 'function' && Reflect.hasMetadata(PATH_METADATA, method.value)) {
        Object.defineProperty(prototype, name, { ...method, value: holdAtDoor(method.value) });
      }
    }
    SetMetadata(BGRS_BACKGROUND_CAPABLE, true)(target as Function);
    ApiBackgroundCapable()(target as Function);
  };
}
