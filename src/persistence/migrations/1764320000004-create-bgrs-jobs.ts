import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The queue mode's bookkeeping, in a table of its own (README, “Tables”): each request handed to the queue that has
 * not ended, with the request itself for the worker and the number of its runs. Made whether or not a host uses the
 * queue; empty unless it does.
 */
export class CreateBgrsJobs1764320000004 implements MigrationInterface {
  name = 'CreateBgrsJobs1764320000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `bgrs_jobs` (' +
        '`rid` char(32) NOT NULL, ' +
        '`attempt` int UNSIGNED NOT NULL DEFAULT 0, ' +
        '`rerun` tinyint UNSIGNED NOT NULL, ' +
        '`worker_id` char(32) NULL, ' +
        '`queued_at` bigint UNSIGNED NOT NULL, ' +
        '`envelope` mediumblob NOT NULL, ' +
        'PRIMARY KEY (`rid`), ' +
        'CONSTRAINT `FK_bgrs_jobs_request` FOREIGN KEY (`rid`) REFERENCES `bgrs_requests` (`rid`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE `bgrs_jobs`');
  }
}
