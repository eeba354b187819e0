import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule, DEMO_RESULTS } from './app.module.js';

async function bootstrap(): Promise<void> {
  // rawBody: in queue mode a request travels to its worker as the bytes it came with.
  const app = await NestFactory.create(AppModule.forRole('web'), { rawBody: true });
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  const logger = new Logger('Demo');
  logger.log(`listening on http://localhost:${port}`);
  logger.log(`dashboard: http://localhost:${port}/`);
  logger.log(DEMO_RESULTS.description);
  logger.log(`try: curl -i 'http://localhost:${port}/v2.5/reports/sales?year=2024&bgrs=yes'`);
}

void bootstrap();
