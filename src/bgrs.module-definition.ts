import { ConfigurableModuleBuilder, Controller, type Type } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { BGRS_DATA_SOURCE, BGRS_DEFAULT_PATH, BGRS_PATH } from './bgrs.constants.js';
import { BgrsController } from './lookup/bgrs.controller.js';
import type { BgrsModuleExtras, BgrsModuleOptions } from './options/bgrs-options.js';
import { bgrsEntities } from './persistence/entities/index.js';
import { trimSlashes } from './util/trim-slashes.js';

/** The prefix without surrounding slashes, e.g. `bgrs` or `api/jobs`. */
function normalizePath(path: string | undefined): string {
  return trimSlashes(path ?? '') || BGRS_DEFAULT_PATH;
}

/** The lookup controller, under another prefix when one is configured. */
function lookupController(path: string): Type {
  if (path === BGRS_DEFAULT_PATH) {
    return BgrsController;
  }
  @Controller(path)
  class PrefixedBgrsController extends BgrsController {}
  return PrefixedBgrsController;
}

export const {
  ConfigurableModuleClass: ConfigurableBgrsModule,
  MODULE_OPTIONS_TOKEN: BGRS_MODULE_OPTIONS,
  OPTIONS_TYPE: BGRS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: BGRS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<BgrsModuleOptions>({ moduleName: 'Bgrs' })
  .setClassMethodName('forRoot')
  // Routes and the entities' data source are fixed when the module is defined, before any async options exist.
  .setExtras<BgrsModuleExtras>({ path: BGRS_DEFAULT_PATH, dataSource: undefined }, (definition, extras) => {
    const path = normalizePath(extras.path);
    return {
      ...definition,
      global: true,
      imports: [...(definition.imports ?? []), TypeOrmModule.forFeature(bgrsEntities, extras.dataSource)],
      controllers: [lookupController(path)],
      providers: [
        ...(definition.providers ?? []),
        { provide: BGRS_PATH, useValue: path },
        { provide: BGRS_DATA_SOURCE, useExisting: getDataSourceToken(extras.dataSource) },
      ],
    };
  })
  .build();
