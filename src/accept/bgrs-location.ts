import { Inject, Injectable, RequestMethod, type Type } from '@nestjs/common';
import { MODULE_PATH, VERSION_METADATA } from '@nestjs/common/constants.js';
import { ApplicationConfig, ModulesContainer } from '@nestjs/core';
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';
import { BGRS_PATH } from '../bgrs.constants.js';
import { BgrsController } from '../lookup/bgrs.controller.js';

const RID_SEGMENT = ':rid';

/**
 * The `Location` of an accepted request: the URL of `GET /bgrs/:rid` exactly where Nest serves it, built by Nest's
 * own route path factory from the app's global prefix (and its exclusions), URI versioning, and a `RouterModule`
 * path of the module. Known once the app is set up, so it is resolved at the first acceptance.
 */
@Injectable()
export class BgrsLocation {
  private template: string | undefined;

  constructor(
    @Inject(BGRS_PATH) private readonly path: string,
    private readonly config: ApplicationConfig,
    private readonly modules: ModulesContainer,
  ) {}

  of(rid: string): string {
    this.template ??= this.resolve();
    return this.template.replace(RID_SEGMENT, rid);
  }

  private resolve(): string {
    const { controller, module } = this.lookupRoutes();
    const versioningOptions = this.config.getVersioning();
    const [path] = new RoutePathFactory(this.config).create(
      {
        ctrlPath: this.path,
        methodPath: RID_SEGMENT,
        globalPrefix: this.config.getGlobalPrefix(),
        modulePath:
          Reflect.getMetadata(MODULE_PATH + this.modules.applicationId, module) ??
          Reflect.getMetadata(MODULE_PATH, module),
        versioningOptions,
        // As Nest's routes resolver versions a controller.
        controllerVersion: versioningOptions
          ? (Reflect.getMetadata(VERSION_METADATA, controller) ?? versioningOptions.defaultVersion)
          : undefined,
      },
      RequestMethod.GET,
    );
    return path;
  }

  /** The lookup controller (under the configured prefix) and the module that declares it. */
  private lookupRoutes(): { controller: Type; module: Type } {
    for (const module of this.modules.values()) {
      for (const { metatype } of module.controllers.values()) {
        const controller = metatype as Type | undefined;
        if (controller && (controller === BgrsController || controller.prototype instanceof BgrsController)) {
          return { controller, module: module.metatype };
        }
      }
    }
    throw new Error('The bgrs lookup controller is not registered');
  }
}
