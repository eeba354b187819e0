import { Controller, Get, Query } from '@nestjs/common';
import { BackgroundCapable } from '../../src/index.js';
import { Gates } from './gate.js';

/** The gates `GET /jobs/held?name=` waits at: a spec opens them by name (and all of them in `after`). */
export const jobGates = new Gates();

/** Two background-capable routes: one that answers at once, one held until the test lets it go. */
@Controller('jobs')
export class JobsController {
  @Get('quick')
  @BackgroundCapable()
  quick(@Query('n') n: string) {
    return { job: n };
  }

  @Get('held')
  @BackgroundCapable()
  async held(@Query('name') name: string) {
    await jobGates.wait(name);
    return { held: name };
  }
}
