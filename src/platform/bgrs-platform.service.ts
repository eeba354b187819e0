import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ExpressPlatform } from './express.platform.js';
import { FastifyPlatform } from './fastify.platform.js';
import type { BgrsPlatform } from './bgrs-platform.interface.js';

/**
 * The `BgrsPlatform` of the app's HTTP platform. Resolved late: a testing module creates its providers before
 * the HTTP adapter exists.
 */
@Injectable()
export class BgrsPlatformService implements OnApplicationBootstrap {
  private platform: BgrsPlatform | undefined;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    if (this.adapterHost.httpAdapter) {
      this.get();
    }
  }

  get(): BgrsPlatform {
    return (this.platform ??= this.create());
  }

  private create(): BgrsPlatform {
    const platform = this.adapterHost.httpAdapter?.getType();
    if (platform === 'express') {
      return new ExpressPlatform();
    }
    if (platform === 'fastify') {
      return new FastifyPlatform();
    }
    throw new Error(`BgrsModule supports the express and fastify HTTP platforms, not "${platform}".`);
  }
}
