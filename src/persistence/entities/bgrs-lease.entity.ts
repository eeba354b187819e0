import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryColumn, type Relation } from 'typeorm';
import { BgrsRequest } from './bgrs-request.entity.js';

/** A row of `bgrs_leases`: which instance runs a background request that has not ended. */
@Entity('bgrs_leases')
export class BgrsLease {
  @PrimaryColumn({ type: 'char', length: 32 })
  rid: string;

  @OneToOne(() => BgrsRequest, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'rid', referencedColumnName: 'rid', foreignKeyConstraintName: 'FK_bgrs_leases_request' })
  request?: Relation<BgrsRequest>;

  @Index('IDX_bgrs_leases_instance')
  @Column({ name: 'instance_id', type: 'char', length: 32 })
  instanceId: string;
}
