import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { BgrsResult } from './bgrs-result.entity.js';

/** A row of `bgrs_result_chunks`: bytes `seq × chunk size` onwards of a result kept by `DatabaseResultStore`. */
@Entity('bgrs_result_chunks')
export class BgrsResultChunk {
  @PrimaryColumn({ type: 'char', length: 32 })
  rid: string;

  @PrimaryColumn({ type: 'int', unsigned: true })
  attempt: number;

  @PrimaryColumn({ type: 'int', unsigned: true })
  seq: number;

  @ManyToOne(() => BgrsResult, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn([
    { name: 'rid', referencedColumnName: 'rid', foreignKeyConstraintName: 'FK_bgrs_result_chunks_result' },
    { name: 'attempt', referencedColumnName: 'attempt', foreignKeyConstraintName: 'FK_bgrs_result_chunks_result' },
  ])
  result?: Relation<BgrsResult>;

  /** MEDIUMBLOB: up to 16 MiB, and a chunk is 1 MiB. */
  @Column({ type: 'mediumblob' })
  data: Buffer;
}
