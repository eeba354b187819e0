import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { BGRS_OPTIONS } from '../bgrs.constants.js';
import type { ResolvedBgrsOptions } from '../options/bgrs-options.js';
import { callerIdOf } from '../options/caller-id.js';
import { BgrsRequestRepository, type BgrsLookupOptions } from '../persistence/bgrs-request.repository.js';
import type { BgrsRequest } from '../persistence/entities/bgrs-request.entity.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/** Finds a request as a caller may see it: with `ownerOnly`, someone else's request is as unknown as a missing one. */
@Injectable()
export class BgrsVisibleRequests {
  constructor(
    private readonly repository: BgrsRequestRepository,
    @Inject(BGRS_OPTIONS) private readonly options: ResolvedBgrsOptions,
  ) {}

  async find(rid: string, caller: unknown, lookup?: BgrsLookupOptions): Promise<BgrsRequest> {
    const request = await this.repository.findOne(rid, lookup);
    // The same 404 either way, so that existence does not leak.
    if (!request || (this.options.ownerOnly && !(await this.isOwner(request, caller)))) {
      throw new NotFoundException(BGRS_MESSAGES.unknownRid(rid));
    }
    return request;
  }

  /** A numeric caller owns what its `user_id` names; any other id owns what `bgrs_owners` says it does. */
  private async isOwner(request: BgrsRequest, caller: unknown): Promise<boolean> {
    const id = callerIdOf(this.options, caller);
    if (typeof id === 'number') {
      return request.userId === id;
    }
    if (id === null || request.userId !== null) {
      return false;
    }
    return this.repository.isOwnedBy(request.rid, id);
  }
}
