import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { BgrsRequest } from './bgrs-request.entity.js';

/**
 * A row of `bgrs_results`: a result kept in the database by `DatabaseResultStore`, its body in
 * `bgrs_result_chunks`; one per attempt that wrote one (a queue worker's run again writes its own). The row is written first, without `committed_dt`; readers see the result only once commit
 * has set it, in one statement. It goes with its request (cascade).
 */
@Entity('bgrs_results')
export class BgrsResult {
  @PrimaryColumn({ type: 'char', length: 32 })
  rid: string;

  /** The run that wrote it: 1, or more when a queue worker ran the request again. */
  @PrimaryColumn({ type: 'int', unsigned: true })
  attempt: number;

  @ManyToOne(() => BgrsRequest, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'rid', referencedColumnName: 'rid', foreignKeyConstraintName: 'FK_bgrs_results_request' })
  request?: Relation<BgrsRequest>;

  /** Bytes of the body, set at commit. */
  @Column({ type: 'bigint', unsigned: true })
  size: string;

  /** Headers beyond the Content-Type, as JSON; NULL when there are none. */
  @Column({ type: 'text', nullable: true })
  headers: string | null;

  /** When its writer began. */
  @Column({ name: 'created_dt', type: 'datetime' })
  createdDt: Date;

  /** When it was committed; NULL while it is written, or after its writer died. */
  @Column({ name: 'committed_dt', type: 'datetime', nullable: true })
  committedDt: Date | null;
}
