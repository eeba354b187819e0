import type * as ClientS3 from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { createRequire } from 'node:module';

/** The two packages of the AWS SDK that the S3 store uses. */
export interface S3Sdk {
  s3: typeof ClientS3;
  storage: typeof LibStorage;
}

const S3_SDK_PACKAGES = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'] as const;

/**
 * The AWS SDK is an optional peer dependency: it is loaded when an `S3ResultStore` is made, never when the package
 * is imported, so a host that keeps its results elsewhere does not need it.
 */
export function loadS3Sdk(): S3Sdk {
  const require = createRequire(import.meta.url);
  try {
    return { s3: require(S3_SDK_PACKAGES[0]), storage: require(S3_SDK_PACKAGES[1]) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `S3ResultStore needs the AWS SDK, an optional peer dependency of nestjs-bgrs: npm install ${S3_SDK_PACKAGES.join(' ')}`,
        { cause: error },
      );
    }
    throw error;
  }
}
