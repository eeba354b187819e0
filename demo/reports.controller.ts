import {
  BadRequestException,
  Controller,
  DefaultValuePipe,
  Get,
  Logger,
  ParseIntPipe,
  Query,
  StreamableFile,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundCapable, ProgressReporter } from 'nestjs-bgrs';

/** Milliseconds one month of the report takes; 12 months ≈ 24 s by default. */
const MONTH_MS = Number(process.env.DEMO_REPORT_MONTH_MS ?? 2000);
const REGIONS = ['north', 'south', 'east', 'west'] as const;

interface SalesRow {
  month: number;
  region: string;
  orders: number;
  revenue: number;
}

@Controller('v2.5/reports')
export class ReportsController {
  private readonly logger = new Logger(ReportsController.name);

  constructor(private readonly progress: ProgressReporter) {}

  /**
   * A slow report (about 25 s): one "expensive" month after the other, reporting progress after each. JSON by
   * default, CSV with `?t=csv`.
   */
  @Get('sales')
  @BackgroundCapable()
  async sales(
    @Query('year', new DefaultValuePipe(new Date().getUTCFullYear()), ParseIntPipe) year: number,
    @Query('t') format?: string,
  ) {
    if (year < 2000 || year > 2100) {
      throw new BadRequestException('year must be between 2000 and 2100');
    }
    if (format !== undefined && format !== 'csv' && format !== 'json') {
      throw new BadRequestException('t must be "csv" or "json"');
    }
    this.logger.log(
      `sales report ${year} started${this.progress.rid ? ` (background request ${this.progress.rid})` : ''}`,
    );

    const rows: SalesRow[] = [];
    for (let month = 1; month <= 12; month++) {
      // Stop early when the background request is cancelled or the app shuts down (no-op in the foreground).
      this.progress.signal?.throwIfAborted();
      await sleep(MONTH_MS, undefined, { signal: this.progress.signal });
      const monthRows = crunchMonth(year, month);
      rows.push(...monthRows);
      const orders = monthRows.reduce((sum, row) => sum + row.orders, 0);
      await this.progress.report((month / 12) * 100, `month ${month}/12 done: ${orders} orders`);
    }
    this.logger.log(`sales report ${year} done`);

    if (format === 'csv') {
      const csv = [
        'month,region,orders,revenue',
        ...rows.map((r) => `${r.month},${r.region},${r.orders},${r.revenue.toFixed(2)}`),
      ]
        .join('\r\n')
        .concat('\r\n');
      return new StreamableFile(Buffer.from(csv, 'utf8'), {
        type: 'text/csv; charset=utf-8',
        disposition: `attachment; filename="sales-${year}.csv"`,
      });
    }
    const revenue = rows.reduce((sum, row) => sum + row.revenue, 0);
    return {
      year,
      currency: 'EUR',
      orders: rows.reduce((sum, row) => sum + row.orders, 0),
      revenue: Math.round(revenue * 100) / 100,
      rows,
    };
  }
}

/** Made-up but repeatable figures for one month. */
function crunchMonth(year: number, month: number): SalesRow[] {
  return REGIONS.map((region, index) => {
    const seed = (year * 373 + month * 31 + index * 97) % 1000;
    const orders = 100 + (seed % 400);
    return { month, region, orders, revenue: Math.round(orders * (20 + (seed % 50)) * 100) / 100 };
  });
}
