import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ExpressResponseCapture } from './express-response-capture.js';
import { FastifyResponseCapture } from './fastify-response-capture.js';
import type { ResponseCapture } from './response-capture.interface.js';

/**
 * The `ResponseCapture` of the app's HTTP platform. Resolved late: a testing module creates its providers before
 * the HTTP adapter exists.
 */
@Injectable()
export class PlatformCapture implements OnApplicationBootstrap {
  private capture: ResponseCapture | undefined;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    if (this.adapterHost.httpAdapter) {
      this.get();
    }
  }

  get(): ResponseCapture {
    return (this.capture ??= this.create());
  }

  private create(): ResponseCapture {
    const platform = this.adapterHost.httpAdapter?.getType();
    if (platform === 'express') {
      return new ExpressResponseCapture();
    }
    if (platform === 'fastify') {
      return new FastifyResponseCapture();
    }
    throw new Error(`BgrsModule supports the express and fastify HTTP platforms, not "${platform}".`);
  }
}
