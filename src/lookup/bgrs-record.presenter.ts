import { Inject, Injectable } from '@nestjs/common';
import { BGRS_OPTIONS, BGRS_STATUS_NAMES, type BgrsStatusId } from '../bgrs.constants.js';
import { timezoneOffsetMs, type ResolvedBgrsOptions } from '../options/bgrs-options.js';
import type { BgrsDetail } from '../persistence/entities/bgrs-detail.entity.js';
import type { BgrsRequest } from '../persistence/entities/bgrs-request.entity.js';

/** A `bgrs_requests` row as the lookup endpoint shows it (README, “Lookup endpoints”): every value a string, or null. */
export interface BgrsRequestView {
  id: string;
  rid: string;
  user_id: string | null;
  name: string;
  created_dt: string;
  status_id: string;
  status_name: string;
  progress: string;
  finished_dt: string | null;
  status: string | null;
  content_type: string | null;
  result: string | null;
}

export interface BgrsDetailView {
  id: string;
  rid: string;
  dt: string;
  details: string;
}

/**
 * Renders rows in the original API's format; dates as `YYYY-MM-DD HH:mm:ss` in the configured `timezone` (`Z` for
 * UTC, or a fixed offset such as `+02:00`).
 */
@Injectable()
export class BgrsRecordPresenter {
  private readonly offsetMs: number;

  constructor(@Inject(BGRS_OPTIONS) { timezone }: ResolvedBgrsOptions) {
    this.offsetMs = timezoneOffsetMs(timezone);
  }

  request(row: BgrsRequest): BgrsRequestView {
    return {
      id: String(row.id),
      rid: row.rid,
      user_id: this.text(row.userId),
      name: row.name,
      created_dt: this.date(row.createdDt),
      status_id: String(row.statusId),
      status_name: row.state?.name ?? BGRS_STATUS_NAMES[row.statusId as BgrsStatusId],
      progress: Number(row.progress).toFixed(2),
      finished_dt: row.finishedDt ? this.date(row.finishedDt) : null,
      status: this.text(row.httpStatus),
      content_type: row.contentType,
      result: row.result,
    };
  }

  detail(row: BgrsDetail): BgrsDetailView {
    return { id: String(row.id), rid: row.rid, dt: this.date(row.dt), details: row.details };
  }

  private text(value: number | string | null): string | null {
    return value === null ? null : String(value);
  }

  private date(value: Date): string {
    return new Date(value.getTime() + this.offsetMs).toISOString().slice(0, 19).replace('T', ' ');
  }
}
