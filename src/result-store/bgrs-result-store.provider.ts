import type { FactoryProvider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import type { BgrsResultStore } from './bgrs-result-store.interface.js';
import { FileResultStore } from './file/file-result-store.js';

/**
 * `BGRS_RESULT_STORE`: the `resultStore` option, a class of it created by Nest with its dependencies, or files in
 * `resultDir`. It is the value of this provider of BgrsModule, so Nest runs its lifecycle hooks, once.
 */
export const bgrsResultStoreProvider: FactoryProvider<BgrsResultStore> = {
  provide: BGRS_RESULT_STORE,
  inject: [BGRS_OPTIONS, ModuleRef],
  useFactory: async ({ resultStore, resultDir }: ResolvedBgrsOptions, moduleRef: ModuleRef) => {
    const store =
      typeof resultStore === 'function'
        ? await moduleRef.create(resultStore)
        : (resultStore ?? new FileResultStore(resultDir));
    return store;
  },
};
