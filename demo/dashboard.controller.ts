import { Controller, Get, Header, HttpCode, StreamableFile } from '@nestjs/common';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the page's files are: `demo/public/` in the source tree. Compiled, this file runs from `build/demo/`,
 * so that folder is two levels up; run from the source (ts-node and the like) it is beside this file. Resolved
 * from this module, never from the working directory, which the demo may have anywhere.
 */
const PUBLIC_DIR = [new URL('./public/', import.meta.url), new URL('../../demo/public/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'index.html')));

/** The page may load its own script and style and talk to its own origin, nothing else. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The demo's dashboard at `/`: the caller's recent background requests with live progress (Server-Sent Events
 * from `GET /bgrs/<rid>/events`), their details, results and a Cancel button, and a button that starts the slow
 * sales report in the background. Three fixed files, served by name, no static folder and no bundler.
 */
@Controller()
export class DashboardController {
  @Get()
  @Header('Cache-Control', 'no-cache')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  @Header('X-Content-Type-Options', 'nosniff')
  page(): StreamableFile {
    return file('index.html', 'text/html; charset=utf-8');
  }

  @Get('dashboard.js')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  script(): StreamableFile {
    return file('dashboard.js', 'text/javascript; charset=utf-8');
  }

  /** Nothing, rather than a 404 in the console of every page the browser shows from this origin (results too). */
  @Get('favicon.ico')
  @HttpCode(204)
  @Header('Cache-Control', 'max-age=86400')
  favicon(): void {}

  @Get('dashboard.css')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  style(): StreamableFile {
    return file('dashboard.css', 'text/css; charset=utf-8');
  }
}

function file(name: string, type: string): StreamableFile {
  if (!PUBLIC_DIR) {
    throw new Error('The dashboard files were not found: expected demo/public/ in the repository');
  }
  return new StreamableFile(createReadStream(join(PUBLIC_DIR, name)), { type });
}
