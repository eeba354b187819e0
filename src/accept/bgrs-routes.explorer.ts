import { Injectable, type Type } from '@nestjs/common';
import {
  HEADERS_METADATA,
  PATH_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  RESPONSE_PASSTHROUGH_METADATA,
  ROUTE_ARGS_METADATA,
  SSE_METADATA,
} from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { BGRS_BACKGROUND_CAPABLE } from '../bgrs.constants.js';
import type { BackgroundCapableOptions } from './background-capable.decorator.js';
import { holdAtDoor, type RouteHandler } from './held-handler.js';

/** What the module needs to know of a background-capable route. */
export interface BgrsRoute {
  /**
   * Nest does not send the handler's value as the answer: it leaves the response to the handler (`@Res()` without
   * passthrough), or sends a redirect (`@Redirect()`) or a template (`@Render()`) built from the value.
   */
  readonly answersItself: boolean;
  /** Runs through the queue when queue mode is on. */
  readonly queue: boolean;
  /** A run cut by its worker's death is run again. */
  readonly rerun: boolean;
  /** The headers its `@Header()` decorators set, which belong to its result and not to the early answer. */
  readonly headers: readonly string[];
}

/**
 * Finds the background-capable routes of every controller (method or class metadata, inherited methods included;
 * never `@Sse()` ones) and holds their handlers at the door. It must run before Nest registers the routes, which
 * read the handlers from the controllers' prototypes then.
 */
@Injectable()
export class BgrsRoutesExplorer {
  private readonly routes = new WeakMap<Function, BgrsRoute>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  holdCapableRoutes(): void {
    for (const { metatype } of this.discovery.getControllers()) {
      const controller = metatype as Type | undefined;
      if (controller?.prototype) {
        this.holdRoutesOf(controller);
      }
    }
  }

  /** The route of a handler as the router holds it, if it is background-capable. */
  routeOf(handler: Function): BgrsRoute | undefined {
    return this.routes.get(handler);
  }

  private holdRoutesOf(controller: Type): void {
    const prototype = controller.prototype as Record<string, RouteHandler>;
    for (const name of this.scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name];
      if (this.routes.has(handler) || !this.isCapable(controller, handler)) {
        continue;
      }
      const held = holdAtDoor(handler);
      const options = this.optionsOf(controller, handler)!;
      this.routes.set(held, {
        answersItself: this.answersItself(controller, name, handler),
        queue: options.queue !== false,
        rerun: options.rerun !== false,
        headers: (Reflect.getMetadata(HEADERS_METADATA, handler) ?? []).map((header: { name: string }) => header.name),
      });
      // An own property of this controller's prototype: a base class shared with other controllers stays as it is.
      Object.defineProperty(prototype, name, { value: held, writable: true, configurable: true, enumerable: false });
    }
  }

  private isCapable(controller: Type, handler: RouteHandler): boolean {
    return (
      Reflect.hasMetadata(PATH_METADATA, handler) &&
      !Reflect.getMetadata(SSE_METADATA, handler) &&
      this.optionsOf(controller, handler) !== undefined
    );
  }

  /** The method's `@BackgroundCapable()` options, else its controller's. */
  private optionsOf(controller: Type, handler: RouteHandler): BackgroundCapableOptions | undefined {
    return this.reflector.getAllAndOverride<BackgroundCapableOptions>(BGRS_BACKGROUND_CAPABLE, [handler, controller]);
  }

  private answersItself(controller: Type, name: string, handler: RouteHandler): boolean {
    const args: Record<string, unknown> = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {};
    const injectsResponse = Object.keys(args).some((key) => {
      const type = Number(key.split(':')[0]);
      return type === RouteParamtypes.RESPONSE || type === RouteParamtypes.NEXT;
    });
    const handlesResponse = injectsResponse && !Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, name);
    return (
      handlesResponse ||
      typeof Reflect.getMetadata(REDIRECT_METADATA, handler)?.url === 'string' ||
      Reflect.getMetadata(RENDER_METADATA, handler) !== undefined
    );
  }
}
