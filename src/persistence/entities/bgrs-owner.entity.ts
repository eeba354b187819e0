import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryColumn, type Relation } from 'typeorm';
import { BGRS_OWNER_MAX_BYTES } from '../../bgrs.constants.js';
import { BgrsRequest } from './bgrs-request.entity.js';

/**
 * A row of `bgrs_owners`: who made a request whose caller id `user_id` (INT UNSIGNED) cannot hold, such as a UUID
 * or a user name. Such a request has `user_id` NULL; numeric callers get no row here.
 */
@Entity('bgrs_owners')
export class BgrsOwner {
  @PrimaryColumn({ type: 'char', length: 32 })
  rid: string;

  @OneToOne(() => BgrsRequest, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'rid', referencedColumnName: 'rid', foreignKeyConstraintName: 'FK_bgrs_owners_request' })
  request?: Relation<BgrsRequest>;

  /**
   * The id as UTF-8 bytes. Binary, because ids are compared exactly: a text collation would take `Alice` for
   * `alice`, or `bob ` for `bob`, and let one user see another's requests.
   */
  @Index('IDX_bgrs_owners_owner')
  @Column({ type: 'varbinary', length: BGRS_OWNER_MAX_BYTES })
  owner: Buffer;
}
