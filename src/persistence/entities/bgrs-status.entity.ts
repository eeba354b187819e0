import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A row of `bgrs_statuses`: the names of the status ids (seeded by the migration). */
@Entity('bgrs_statuses')
export class BgrsStatus {
  @PrimaryColumn({ type: 'tinyint', unsigned: true })
  id: number;

  @Index('UQ_bgrs_statuses_name', { unique: true })
  @Column({ type: 'varchar', length: 32 })
  name: string;
}
