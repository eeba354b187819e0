import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { BgrsRequest } from './bgrs-request.entity.js';

/** A row of `bgrs_details`: one progress message of a background request. */
@Entity('bgrs_details')
export class BgrsDetail {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id: string;

  @Index('IDX_bgrs_details_rid')
  @Column({ type: 'char', length: 32 })
  rid: string;

  @ManyToOne(() => BgrsRequest, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'rid', referencedColumnName: 'rid', foreignKeyConstraintName: 'FK_bgrs_details_request' })
  request?: Relation<BgrsRequest>;

  @Column({ type: 'datetime' })
  dt: Date;

  @Column({ type: 'text' })
  details: string;
}
