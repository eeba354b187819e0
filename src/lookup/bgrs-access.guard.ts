import { Inject, Injectable, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { BGRS_OPTIONS } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';

/**
 * Runs the `guards` of the module options on the lookup routes, after the app's global guards. They come from the
 * options (possibly async), so they cannot be bound with `@UseGuards()` when the controller is defined.
 */
@Injectable()
export class BgrsAccessGuard implements CanActivate {
  private guards: Promise<CanActivate[]> | undefined;

  constructor(
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    // Every lookup passes here: with no guards configured, there is nothing to wait for.
    return this.options.guards.length === 0 || this.runGuards(context);
  }

  private async runGuards(context: ExecutionContext): Promise<boolean> {
    for (const guard of await (this.guards ??= this.resolveGuards())) {
      const verdict = guard.canActivate(context);
      if (!(await (isObservable(verdict) ? lastValueFrom(verdict) : verdict))) {
        return false;
      }
    }
    return true;
  }

  private resolveGuards(): Promise<CanActivate[]> {
    return Promise.all(
      this.options.guards.map((guard) => (typeof guard === 'function' ? this.instanceOf(guard) : guard)),
    );
  }

  /** The app's own instance when the guard is a provider somewhere, else one created here with its dependencies. */
  private async instanceOf(guard: Type<CanActivate>): Promise<CanActivate> {
    try {
      return this.moduleRef.get(guard, { strict: false });
    } catch {
      return this.moduleRef.create(guard);
    }
  }
}
