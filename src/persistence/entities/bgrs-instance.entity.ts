import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A row of `bgrs_instances`: a running process of the app that holds background requests. It renews `expires_at`
 * on every heartbeat; once that is past, the instance is taken for dead.
 */
@Entity('bgrs_instances')
export class BgrsInstance {
  @PrimaryColumn({ type: 'char', length: 32 })
  id: string;

  /** Epoch milliseconds. */
  @Column({ name: 'expires_at', type: 'bigint', unsigned: true })
  expiresAt: string;
}
