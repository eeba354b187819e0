import type { FactoryProvider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { BGRS_OPTIONS, BGRS_RESULT_STORE } from './bgrs.constants.js';
import type { ResolvedBgrsOptions } from './bgrs-options.interface.js';
import type { BgrsResultStore } from './result-store/bgrs-result-store.interface.js';
import { FileResultStore } from './result-store/file-result-store.js';

/** What a store must have, checked at start rather than at the first background request. */
const STORE_METHODS = ['create', 'open', 'remove', 'abandon'] as const;

function assertResultStore(store: unknown): asserts store is BgrsResultStore {
  const missing = STORE_METHODS.filter((method) => typeof (store as Record<string, unknown>)[method] !== 'function');
  if (missing.length > 0) {
    const what =
      typeof store === 'object' && store !== null ? (store.constructor?.name ?? 'an object') : JSON.stringify(store);
    throw new Error(
      `The BgrsModule option resultStore must be a BgrsResultStore or its class: ${what} has no ${missing.join(', ')}.`,
    );
  }
}

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
    assertResultStore(store);
    return store;
  },
};
