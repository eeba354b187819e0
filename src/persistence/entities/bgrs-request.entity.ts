import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { BgrsStatus } from './bgrs-status.entity.js';

/** A row of `bgrs_requests`: one background request (README, “Tables”). */
@Entity('bgrs_requests')
export class BgrsRequest {
  @PrimaryGeneratedColumn({ type: 'int', unsigned: true })
  id: number;

  @Index('UQ_bgrs_requests_rid', { unique: true })
  @Column({ type: 'char', length: 32 })
  rid: string;

  @Column({ name: 'user_id', type: 'int', unsigned: true, nullable: true })
  userId: number | null;

  /** The original path and query. */
  @Column({ type: 'varchar', length: 2048 })
  name: string;

  @Column({ name: 'created_dt', type: 'datetime' })
  createdDt: Date;

  @Column({ name: 'status_id', type: 'tinyint', unsigned: true })
  statusId: number;

  @ManyToOne(() => BgrsStatus, { nullable: false })
  @JoinColumn({ name: 'status_id', foreignKeyConstraintName: 'FK_bgrs_requests_status' })
  state?: Relation<BgrsStatus>;

  @Column({ type: 'decimal', precision: 5, scale: 2, default: 0 })
  progress: string;

  @Column({ name: 'finished_dt', type: 'datetime', nullable: true })
  finishedDt: Date | null;

  /** The HTTP status of the result (column `status`). */
  @Column({ name: 'status', type: 'smallint', unsigned: true, nullable: true })
  httpStatus: number | null;

  @Column({ name: 'content_type', type: 'varchar', length: 255, nullable: true })
  contentType: string | null;

  /** Where the result is kept, e.g. `media/keep1m.bgrs.<rid>.result.json`. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  result: string | null;

  /** A small result's bytes, kept here instead of in the store (`inlineResultBytes`); read only by `/result`. */
  @Column({ name: 'result_body', type: 'blob', nullable: true, select: false })
  resultBody?: Buffer | null;
}
