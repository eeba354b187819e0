import { BgrsDetail } from './bgrs-detail.entity.js';
import { BgrsInstance } from './bgrs-instance.entity.js';
import { BgrsJob } from './bgrs-job.entity.js';
import { BgrsLease } from './bgrs-lease.entity.js';
import { BgrsOwner } from './bgrs-owner.entity.js';
import { BgrsRequest } from './bgrs-request.entity.js';
import { BgrsResult } from './bgrs-result.entity.js';
import { BgrsResultChunk } from './bgrs-result-chunk.entity.js';
import { BgrsStatus } from './bgrs-status.entity.js';

export {
  BgrsDetail,
  BgrsInstance,
  BgrsJob,
  BgrsLease,
  BgrsOwner,
  BgrsRequest,
  BgrsResult,
  BgrsResultChunk,
  BgrsStatus,
};

/** Every entity of the module, for hosts that list their entities instead of `autoLoadEntities`. */
export const bgrsEntities = [
  BgrsRequest,
  BgrsDetail,
  BgrsStatus,
  BgrsInstance,
  BgrsLease,
  BgrsOwner,
  BgrsResult,
  BgrsResultChunk,
  BgrsJob,
];
