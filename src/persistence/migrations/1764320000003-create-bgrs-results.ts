import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tables of `DatabaseResultStore`, bookkeeping of their own (README, “Tables”): one row per result (of an attempt) and its body in 1 MiB
 * chunks, both removed with their request (cascade). Made whichever store a host uses; they stay empty unless it is
 * the database store.
 */
export class CreateBgrsResults1764320000003 implements MigrationInterface {
  name = 'CreateBgrsResults1764320000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `bgrs_results` (' +
        '`rid` char(32) NOT NULL, ' +
        '`attempt` int UNSIGNED NOT NULL, ' +
        '`size` bigint UNSIGNED NOT NULL, ' +
        '`headers` text NULL, ' +
        '`created_dt` datetime NOT NULL, ' +
        '`committed_dt` datetime NULL, ' +
        'PRIMARY KEY (`rid`, `attempt`), ' +
        'CONSTRAINT `FK_bgrs_results_request` FOREIGN KEY (`rid`) REFERENCES `bgrs_requests` (`rid`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `bgrs_result_chunks` (' +
        '`rid` char(32) NOT NULL, ' +
        '`attempt` int UNSIGNED NOT NULL, ' +
        '`seq` int UNSIGNED NOT NULL, ' +
        '`data` mediumblob NOT NULL, ' +
        'PRIMARY KEY (`rid`, `attempt`, `seq`), ' +
        'CONSTRAINT `FK_bgrs_result_chunks_result` FOREIGN KEY (`rid`, `attempt`) ' +
        'REFERENCES `bgrs_results` (`rid`, `attempt`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE `bgrs_result_chunks`');
    await queryRunner.query('DROP TABLE `bgrs_results`');
  }
}
