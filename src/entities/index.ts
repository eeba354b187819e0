import { BgrsDetail } from './bgrs-detail.entity.js';
import { BgrsRequest } from './bgrs-request.entity.js';
import { BgrsStatus } from './bgrs-status.entity.js';

export { BgrsDetail, BgrsRequest, BgrsStatus };

/** Every entity of the module, for hosts that list their entities instead of `autoLoadEntities`. */
export const bgrsEntities = [BgrsRequest, BgrsDetail, BgrsStatus];
