import type { ExternalContextCreator } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container.js';

/**
 * Nest's container, which the router builds its exception filters from and which knows the global prefix. Nest
 * does not expose it to providers; the injectable ExternalContextCreator holds it.
 */
export function nestContainerOf(externalContextCreator: ExternalContextCreator): NestContainer {
  return (externalContextCreator as unknown as { container: NestContainer }).container;
}
