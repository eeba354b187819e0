import { backgroundRunStorage } from './background-run.js';

export type RouteHandler = (...args: unknown[]) => unknown;

/**
 * A route handler held at its door during a background request: Nest calls the handler once guards and pipes have
 * passed, which is when the request can be accepted; its body runs only after the early `202` is out. Outside a
 * background request it calls straight through. It carries the handler's metadata, which Nest, guards and
 * `Reflector` read from the function the router holds.
 */
export function holdAtDoor(handler: RouteHandler): RouteHandler {
  const held = function (this: unknown, ...args: unknown[]): unknown {
    const door = backgroundRunStorage.getStore()?.arrive(this as object);
    return door ? door.then(() => handler.apply(this, args)) : handler.apply(this, args);
  };
  for (const key of Reflect.getMetadataKeys(handler)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, handler), held);
  }
  Object.defineProperty(held, 'name', { value: handler.name });
  return held;
}
