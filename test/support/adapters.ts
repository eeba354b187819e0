import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/** An HTTP platform to run a test app on. */
export interface TestAdapter {
  /** The adapter class's name, e.g. for `describe(adapter.name, …)`. */
  name: 'ExpressAdapter' | 'FastifyAdapter';
  /** What the adapter's `getType()` answers. */
  platform: 'express' | 'fastify';
  /** A fresh adapter (with a fresh server) for one app. */
  create(): AbstractHttpAdapter;
}

export const expressAdapter: TestAdapter = {
  name: 'ExpressAdapter',
  platform: 'express',
  create: () => new ExpressAdapter(),
};
export const fastifyAdapter: TestAdapter = {
  name: 'FastifyAdapter',
  platform: 'fastify',
  create: () => new FastifyAdapter(),
};

/** Both HTTP platforms, for suites that run on each: `for (const adapter of adapters) describe(adapter.name, …)`. */
export const adapters: readonly TestAdapter[] = [expressAdapter, fastifyAdapter];
