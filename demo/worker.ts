import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

/**
 * A queue worker of the demo (`REDIS_URL=redis://127.0.0.1:6379 npm run worker`): the same app as the web server,
 * set up without listening, which runs the background requests that any web server of the demo accepted. SIGTERM
 * hands its unfinished requests back to the queue.
 */
async function work(): Promise<void> {
  const app = await NestFactory.create(AppModule.forRole('worker'), { rawBody: true });
  app.enableShutdownHooks();
  await app.init();
  new Logger('Demo').log('worker ready: running the queued background requests');
}

void work();
