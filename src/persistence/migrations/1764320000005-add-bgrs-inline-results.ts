import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Small results in their request's row (README, “How results are stored”): `result_body` holds the bytes of a result
 * of up to `inlineResultBytes`, written by the request's final UPDATE; NULL when the result is in the store.
 */
export class AddBgrsInlineResults1764320000005 implements MigrationInterface {
  name = 'AddBgrsInlineResults1764320000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE `bgrs_requests` ADD `result_body` blob NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE `bgrs_requests` DROP COLUMN `result_body`');
  }
}
