import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bookkeeping that the original schema lacks, in tables of its own (README, “Tables”): the live instances and which of
 * them runs each unfinished request, so that the requests of a dead instance can be failed by another.
 */
export class CreateBgrsLeases1764320000001 implements MigrationInterface {
  name = 'CreateBgrsLeases1764320000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `bgrs_instances` (' +
        '`id` char(32) NOT NULL, ' +
        '`expires_at` bigint UNSIGNED NOT NULL, ' +
        'PRIMARY KEY (`id`)' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `bgrs_leases` (' +
        '`rid` char(32) NOT NULL, ' +
        '`instance_id` char(32) NOT NULL, ' +
        'INDEX `IDX_bgrs_leases_instance` (`instance_id`), ' +
        'PRIMARY KEY (`rid`), ' +
        'CONSTRAINT `FK_bgrs_leases_request` FOREIGN KEY (`rid`) REFERENCES `bgrs_requests` (`rid`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE `bgrs_leases`');
    await queryRunner.query('DROP TABLE `bgrs_instances`');
  }
}
