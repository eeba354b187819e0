import type { MigrationInterface, QueryRunner } from 'typeorm';
import { BGRS_STATUS_NAMES } from '../../bgrs.constants.js';

/**
 * Creates `bgrs_statuses`, `bgrs_requests` and `bgrs_details` exactly as the README's “Tables” describes them (MySQL and
 * MariaDB). The names of indexes and keys are those of the entities, so `synchronize` finds nothing to change.
 */
export class CreateBgrsTables1764320000000 implements MigrationInterface {
  name = 'CreateBgrsTables1764320000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `bgrs_statuses` (' +
        '`id` tinyint UNSIGNED NOT NULL, ' +
        '`name` varchar(32) NOT NULL, ' +
        'UNIQUE INDEX `UQ_bgrs_statuses_name` (`name`), ' +
        'PRIMARY KEY (`id`)' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `bgrs_requests` (' +
        '`id` int UNSIGNED NOT NULL AUTO_INCREMENT, ' +
        '`rid` char(32) NOT NULL, ' +
        '`user_id` int UNSIGNED NULL, ' +
        '`name` varchar(2048) NOT NULL, ' +
        '`created_dt` datetime NOT NULL, ' +
        '`status_id` tinyint UNSIGNED NOT NULL, ' +
        "`progress` decimal(5,2) NOT NULL DEFAULT '0.00', " +
        '`finished_dt` datetime NULL, ' +
        '`status` smallint UNSIGNED NULL, ' +
        '`content_type` varchar(255) NULL, ' +
        '`result` varchar(255) NULL, ' +
        'UNIQUE INDEX `UQ_bgrs_requests_rid` (`rid`), ' +
        'PRIMARY KEY (`id`), ' +
        'CONSTRAINT `FK_bgrs_requests_status` FOREIGN KEY (`status_id`) REFERENCES `bgrs_statuses` (`id`) ' +
        'ON DELETE NO ACTION ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `bgrs_details` (' +
        '`id` bigint UNSIGNED NOT NULL AUTO_INCREMENT, ' +
        '`rid` char(32) NOT NULL, ' +
        '`dt` datetime NOT NULL, ' +
        '`details` text NOT NULL, ' +
        'INDEX `IDX_bgrs_details_rid` (`rid`), ' +
        'PRIMARY KEY (`id`), ' +
        'CONSTRAINT `FK_bgrs_details_request` FOREIGN KEY (`rid`) REFERENCES `bgrs_requests` (`rid`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    const statuses = Object.entries(BGRS_STATUS_NAMES);
    await queryRunner.query(
      `INSERT INTO \`bgrs_statuses\` (\`id\`, \`name\`) VALUES ${statuses.map(() => '(?, ?)').join(', ')}`,
      statuses.flatMap(([id, name]) => [Number(id), name]),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE `bgrs_details`');
    await queryRunner.query('DROP TABLE `bgrs_requests`');
    await queryRunner.query('DROP TABLE `bgrs_statuses`');
  }
}
