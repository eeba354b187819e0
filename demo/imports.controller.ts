import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundCapable, ProgressReporter } from 'nestjs-bgrs';
import { CreateImportDto } from './create-import.dto.js';
import { CurrentUser, type DemoUser } from './demo-auth.guard.js';

/** Milliseconds one row takes to import. */
const ROW_MS = Number(process.env.DEMO_IMPORT_ROW_MS ?? 1000);

@Controller('v2.5/imports')
export class ImportsController {
  private readonly logger = new Logger(ImportsController.name);

  constructor(private readonly progress: ProgressReporter) {}

  /**
   * A slow import (about a second a row). The body is validated before anything else: an invalid one gets its
   * 400 at once, with or without `?bgrs=yes`, and no background request is created.
   */
  @Post()
  @HttpCode(201)
  @BackgroundCapable()
  async create(@Body() body: CreateImportDto, @CurrentUser() user: DemoUser) {
    this.logger.log(`import of ${body.rows.length} rows by user ${user.id} started`);
    const seen = new Set<string>();
    const skipped: Array<{ row: number; sku: string; reason: string }> = [];
    let imported = 0;
    for (const [index, row] of body.rows.entries()) {
      this.progress.signal?.throwIfAborted();
      await sleep(ROW_MS, undefined, { signal: this.progress.signal });
      const number = index + 1;
      if (seen.has(row.sku)) {
        skipped.push({ row: number, sku: row.sku, reason: 'duplicate sku' });
        await this.progress.report(
          (number / body.rows.length) * 100,
          `row ${number}: ${row.sku} skipped (duplicate sku)`,
        );
      } else {
        seen.add(row.sku);
        imported++;
        await this.progress.report((number / body.rows.length) * 100, `row ${number}: ${row.sku} imported`);
      }
    }
    this.logger.log(`import by user ${user.id} done: ${imported} imported, ${skipped.length} skipped`);
    return { rows: body.rows.length, imported, skipped, importedBy: user.id };
  }
}
