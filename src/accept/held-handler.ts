import { backgroundRunStorage } from './background-run.js';

export type RouteHandler = (...args: unknown[]) => unknown;

/**
 * `body` as a stand-in for the route handler `handler`: with its name and metadata, which Nest, guards, `Reflector`
 * and `@nestjs/swagger` read from the function a controller's prototype holds.
 */
export function standInFor(handler: RouteHandler, body: RouteHandler): RouteHandler {
  for (const key of Reflect.getMetadataKeys(handler)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, handler), body);
  }
  Object.defineProperty(body, 'name', { value: handler.name });
  return body;
}

/**
 * A route handler held at its door during a background request: Nest calls the handler once guards and pipes have
 * passed, which is when the request can be accepted; its body runs only after the early `202` is out. Outside a
 * background request it calls straight through.
 */
export function holdAtDoor(handler: RouteHandler): RouteHandler {
  return standInFor(handler, function (this: unknown, ...args: unknown[]): unknown {
    const door = backgroundRunStorage.getStore()?.arrive(this as object);
    return door ? door.then(() => handler.apply(this, args)) : handler.apply(this, args);
  });
}
