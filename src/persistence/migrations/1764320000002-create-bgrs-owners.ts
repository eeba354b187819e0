import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The owners of requests made by callers whose ids `user_id` (INT UNSIGNED) cannot hold, such as UUIDs, in a
 * table of their own: bookkeeping never adds columns to the original tables (README, “Under failure”).
 */
export class CreateBgrsOwners1764320000002 implements MigrationInterface {
  name = 'CreateBgrsOwners1764320000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `bgrs_owners` (' +
        '`rid` char(32) NOT NULL, ' +
        '`owner` varbinary(255) NOT NULL, ' +
        'INDEX `IDX_bgrs_owners_owner` (`owner`), ' +
        'PRIMARY KEY (`rid`), ' +
        'CONSTRAINT `FK_bgrs_owners_request` FOREIGN KEY (`rid`) REFERENCES `bgrs_requests` (`rid`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE `bgrs_owners`');
  }
}
