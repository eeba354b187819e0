import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, type Relation } from 'typeorm';
import { BgrsRequest } from './bgrs-request.entity.js';

/**
 * A row of `bgrs_jobs`: a background request handed to the queue (queue mode), while it has not ended. It carries
 * the request to the worker (never through Redis: its headers hold credentials) and fences its runs: only the
 * newest run's outcome may land. Deleted once the request has ended, like a lease.
 */
@Entity('bgrs_jobs')
export class BgrsJob {
  @PrimaryColumn({ type: 'char', length: 32 })
  rid: string;

  @OneToOne(() => BgrsRequest, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'rid', referencedColumnName: 'rid', foreignKeyConstraintName: 'FK_bgrs_jobs_request' })
  request?: Relation<BgrsRequest>;

  /** Runs started so far; the newest one's number is its `ProgressReporter.attempt`. */
  @Column({ type: 'int', unsigned: true, default: 0 })
  attempt: number;

  /** 1 when a run cut by its worker's death may run again (`@BackgroundCapable({ rerun })`), else 0. */
  @Column({ type: 'tinyint', unsigned: true })
  rerun: number;

  /** The instance running it now, if one is. */
  @Column({ name: 'worker_id', type: 'char', length: 32, nullable: true })
  workerId: string | null;

  /** When it was last handed to the queue (epoch ms), for finding jobs the queue lost. */
  @Column({ name: 'queued_at', type: 'bigint', unsigned: true })
  queuedAt: string;

  /** The request as the worker replays it (see `RequestEnvelope`). */
  @Column({ type: 'mediumblob' })
  envelope: Buffer;
}
