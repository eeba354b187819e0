import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type Repository } from 'typeorm';
import { BGRS_DATA_SOURCE, BGRS_NAME_MAX_LENGTH, BgrsStatusId } from './bgrs.constants.js';
import { BgrsDetail } from './entities/bgrs-detail.entity.js';
import { BgrsRequest } from './entities/bgrs-request.entity.js';

/** DATETIME keeps whole seconds; MySQL would round the milliseconds rather than drop them. */
function toSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

export interface NewBgrsRequest {
  rid: string;
  userId: number | null;
  name: string;
  statusId: BgrsStatusId;
  createdAt: Date;
}

export interface BgrsOutcomeRecord {
  httpStatus: number;
  contentType: string | null;
  result: string;
  finishedAt: Date;
}

export interface NewBgrsDetail {
  rid: string;
  at: Date;
  details: string;
}

/** States in which a request still runs, so that late progress never overwrites an end state. */
const RUNNING = [BgrsStatusId.Created, BgrsStatusId.Queued, BgrsStatusId.Processing];

/** Every read and write of the module's tables; parameters only, never SQL built from input. */
@Injectable()
export class BgrsRequestRepository {
  private readonly requests: Repository<BgrsRequest>;
  private readonly details: Repository<BgrsDetail>;

  constructor(@Inject(BGRS_DATA_SOURCE) dataSource: DataSource) {
    this.requests = dataSource.getRepository(BgrsRequest);
    this.details = dataSource.getRepository(BgrsDetail);
  }

  async insert(request: NewBgrsRequest): Promise<void> {
    await this.requests.insert({
      rid: request.rid,
      userId: request.userId,
      name: request.name.slice(0, BGRS_NAME_MAX_LENGTH),
      statusId: request.statusId,
      createdDt: toSecond(request.createdAt),
      progress: '0.00',
    });
  }

  async saveProgress(rid: string, percent: number): Promise<void> {
    await this.requests.update({ rid, statusId: In(RUNNING) }, { progress: percent.toFixed(2) });
  }

  async addDetails(rows: NewBgrsDetail[]): Promise<void> {
    if (rows.length > 0) {
      await this.details.insert(rows.map((row) => ({ rid: row.rid, dt: toSecond(row.at), details: row.details })));
    }
  }

  async finish(rid: string, outcome: BgrsOutcomeRecord): Promise<void> {
    await this.requests.update(
      { rid },
      {
        statusId: BgrsStatusId.Finished,
        progress: '100.00',
        finishedDt: toSecond(outcome.finishedAt),
        httpStatus: outcome.httpStatus,
        contentType: outcome.contentType,
        result: outcome.result,
      },
    );
  }

  async fail(rid: string, reason: string, at = new Date()): Promise<void> {
    await this.requests.update({ rid, statusId: In(RUNNING) }, { statusId: BgrsStatusId.Failed, finishedDt: toSecond(at) });
    await this.addDetails([{ rid, at, details: reason }]);
  }

  findOne(rid: string): Promise<BgrsRequest | null> {
    return this.requests.findOne({ where: { rid }, relations: { state: true } });
  }

  findDetails(rid: string): Promise<BgrsDetail[]> {
    return this.details.find({ where: { rid }, order: { id: 'ASC' } });
  }
}
