/**
 * The same-bytes matrix (issue 12): a controller whose routes answer in every way Nest can (JSON, strings, Buffers,
 * StreamableFile, @HttpCode, @Header, passthrough, Observables, exceptions, method and global filters), and the
 * cases that request them. Shared by `same-bytes.spec.ts` (in-process runs) and `queue-same-bytes.spec.ts` (runs on
 * a queue worker in another process, `test/fixtures/queue-worker-app.ts`), so that both check the same answers.
 */
import {
  Body,
  Catch,
  Controller,
  Get,
  Header,
  HttpCode,
  HttpException,
  NotFoundException,
  Post,
  Res,
  StreamableFile,
  UseFilters,
  type ArgumentsHost,
  type ExceptionFilter,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import assert from 'node:assert/strict';
import { map, timer, type Observable } from 'rxjs';
import { BackgroundCapable, type BgrsRequestView } from '../../src/index.js';
import type { TestAdapter } from './adapters.js';
import {
  jsonOf,
  resultOf,
  sendRaw,
  waitForStatus,
  withBgrs,
  type HttpClient,
  type HttpResponse,
  type RawRequest,
} from './http.js';

/**
 * Answers `status` with a body of its own type through the app's HTTP adapter, so that the same filter works on
 * Express (`res.status().set().send()`) and Fastify (`reply.code().header().send()`).
 */
function answerWith(
  adapterHost: HttpAdapterHost,
  host: ArgumentsHost,
  status: number,
  contentType: string,
  body: string,
): void {
  const { httpAdapter } = adapterHost;
  const response = host.switchToHttp().getResponse();
  httpAdapter.setHeader(response, 'Content-Type', contentType);
  httpAdapter.reply(response, body, status);
}

class TeapotError extends Error {}

/** A method-level filter with a body of its own. */
@Catch(TeapotError)
class TeapotFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: TeapotError, host: ArgumentsHost): void {
    answerWith(this.adapterHost, host, 418, 'text/plain', `short and stout: ${error.message}`);
  }
}

class PaymentRequiredError extends Error {}

/** A global filter (APP_FILTER) for a custom exception class. */
@Catch(PaymentRequiredError)
class PaymentRequiredFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: PaymentRequiredError, host: ArgumentsHost): void {
    const body = JSON.stringify({ type: 'about:blank', title: 'Payment Required', detail: error.message });
    answerWith(this.adapterHost, host, 402, 'application/problem+json', body);
  }
}

@Controller('same')
@BackgroundCapable()
export class SameBytesController {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  @Get('object')
  object() {
    return { id: 267, name: 'Zoë Ünal', nested: { ok: true, none: null }, emoji: '✓🚀' };
  }

  @Get('array')
  array() {
    return [1, 'two', { three: 3 }, null, [true]];
  }

  @Get('string')
  string() {
    return 'plain text, ünïcödé ✓';
  }

  @Get('number')
  number() {
    return 42.5;
  }

  @Get('buffer')
  buffer() {
    return Buffer.from([0, 1, 2, 127, 128, 254, 255]);
  }

  @Get('void')
  empty(): void {}

  @Post('echo')
  @HttpCode(201)
  echo(@Body() body: unknown) {
    return body;
  }

  @Get('no-content')
  @HttpCode(204)
  noContent() {
    return { swallowed: true };
  }

  @Get('csv')
  @Header('Content-Type', 'text/csv')
  csv() {
    return 'month,orders\r\n1,120\r\n2,98\r\n';
  }

  @Get('xml')
  @Header('Content-Type', 'application/xml; charset=utf-8')
  xml() {
    return '<?xml version="1.0"?><report><total>3</total></report>';
  }

  @Get('file')
  file() {
    return new StreamableFile(Buffer.from('%PDF-1.4\n% not really a pdf \x00\xff\n%%EOF\n', 'latin1'), {
      type: 'application/pdf',
      disposition: 'attachment; filename="report-2024.pdf"',
    });
  }

  @Get('passthrough')
  passthrough(@Res({ passthrough: true }) res: unknown) {
    // Express's `res.status()`/`res.set()` or Fastify's `reply.code()`/`reply.header()`, whichever the app runs on.
    const { httpAdapter } = this.adapterHost;
    httpAdapter.status(res, 203);
    httpAdapter.setHeader(res, 'X-Report-Source', 'passthrough');
    return { via: 'passthrough' };
  }

  @Get('observable')
  observable(): Observable<unknown> {
    return timer(10).pipe(map(() => ({ observed: true, at: 'later' })));
  }

  @Get('not-found')
  notFound() {
    throw new NotFoundException('no such report');
  }

  @Get('http-exception-object')
  httpExceptionObject() {
    throw new HttpException({ code: 'E_QUOTA', limits: [10, 20], message: 'quota exceeded' }, 429);
  }

  @Get('plain-error')
  plainError() {
    throw new Error('boom: this message must not leak');
  }

  @Get('method-filter')
  @UseFilters(TeapotFilter)
  methodFilter() {
    throw new TeapotError('tip me over');
  }

  @Get('global-filter')
  globalFilter() {
    throw new PaymentRequiredError('subscribe first');
  }
}

export interface SameBytesCase extends RawRequest {
  name: string;
  /**
   * The extension the result file must have (README, “How results are stored”), which follows the foreground's Content-Type: per platform
   * where Express and Fastify answer with different types (a string is HTML on Express, plain text on Fastify).
   */
  ext: string | Record<TestAdapter['platform'], string>;
  /** Response headers beyond Content-Type that the replay must keep (README, “How results are stored”). */
  keptHeaders?: string[];
}

export const SAME_BYTES_CASES: SameBytesCase[] = [
  { name: 'a JSON object', path: '/same/object', ext: 'json' },
  { name: 'an array', path: '/same/array', ext: 'json' },
  { name: 'a string', path: '/same/string', ext: { express: 'html', fastify: 'txt' } },
  { name: 'a number', path: '/same/number', ext: { express: 'html', fastify: 'json' } },
  { name: 'a Buffer', path: '/same/buffer', ext: { express: 'json', fastify: 'bin' } },
  { name: 'a void handler', path: '/same/void', ext: 'bin' },
  {
    name: 'a POST with @HttpCode(201) echoing its JSON body',
    method: 'post',
    path: '/same/echo',
    body: { name: 'Ann', tags: ['a', 'b'], ratio: 1.5, nested: { deep: [null, false] } },
    ext: 'json',
  },
  { name: '@HttpCode(204)', path: '/same/no-content', ext: 'bin' },
  { name: "CSV via @Header('Content-Type', 'text/csv')", path: '/same/csv', ext: 'csv' },
  { name: 'XML via @Header', path: '/same/xml', ext: 'xml' },
  {
    name: 'a StreamableFile with type and disposition',
    path: '/same/file',
    ext: 'pdf',
    keptHeaders: ['content-disposition'],
  },
  {
    name: '@Res({ passthrough: true }) setting status and a header',
    path: '/same/passthrough',
    ext: 'json',
    keptHeaders: ['x-report-source'],
  },
  { name: 'an async Observable', path: '/same/observable', ext: 'json' },
  { name: 'a NotFoundException', path: '/same/not-found', ext: 'json' },
  { name: 'an HttpException with an object body', path: '/same/http-exception-object', ext: 'json' },
  { name: 'a plain Error (500)', path: '/same/plain-error', ext: 'json' },
  { name: 'a method-level @UseFilters filter', path: '/same/method-filter', ext: 'txt' },
  { name: 'a global APP_FILTER', path: '/same/global-filter', ext: 'json' },
];

export function describeAnswer(res: HttpResponse): string {
  return `${res.status} ${res.headers['content-type'] ?? '(no Content-Type)'} ${JSON.stringify(res.body.toString('latin1'))}`;
}

/** The replay answers exactly as the foreground did: status, Content-Type, body bytes, and the named headers. */
export function assertSameAnswer(foreground: HttpResponse, replay: HttpResponse, headers: string[] = []): void {
  const both = `\n  foreground: ${describeAnswer(foreground)}\n  replay:     ${describeAnswer(replay)}`;
  assert.equal(replay.status, foreground.status, `status differs${both}`);
  assert.equal(replay.headers['content-type'], foreground.headers['content-type'], `Content-Type differs${both}`);
  assert.ok(Buffer.isBuffer(foreground.body) && Buffer.isBuffer(replay.body), 'bodies must be read as raw bytes');
  assert.ok(replay.body.equals(foreground.body), `body bytes differ${both}`);
  for (const name of headers) {
    assert.ok(foreground.headers[name] !== undefined, `the foreground answer should carry ${name}${both}`);
    assert.equal(replay.headers[name], foreground.headers[name], `header ${name} differs${both}`);
  }
}

/**
 * Sends `request` in the foreground, then in the background, waits for the background one to finish, and checks
 * that its `/result` answers as the foreground did, and that its record says the same status and Content-Type.
 */
export async function assertBackgroundAnswersAsForeground(
  http: HttpClient,
  request: RawRequest,
  keptHeaders?: string[],
): Promise<{ rid: string; record: BgrsRequestView; foreground: HttpResponse; replay: HttpResponse }> {
  const foreground = await sendRaw(http, request);
  const accepted = await sendRaw(http, { ...request, path: withBgrs(request.path) });
  assert.equal(accepted.status, 202, `background request not accepted: ${describeAnswer(accepted)}`);
  const rid: string = jsonOf(accepted).request;

  const record = await waitForStatus(http, rid, 'finished');
  const replay = await resultOf(http, rid);
  assertSameAnswer(foreground, replay, keptHeaders);
  assert.equal(record.status, String(foreground.status), "the record's status is the HTTP status");
  assert.equal(record.content_type, foreground.headers['content-type'] ?? null, "the record's content_type");
  return { rid, record, foreground, replay };
}

/** The request a case sends. */
export function requestOf({ method, path, body, headers }: SameBytesCase): RawRequest {
  return { method, path, body, headers };
}

/** The extension a case's result file must have on `platform`. */
export function expectedExtOf({ ext }: SameBytesCase, platform: TestAdapter['platform']): string {
  return typeof ext === 'string' ? ext : ext[platform];
}

/**
 * Whether a case's result is kept in its request's row when small results are (`inlineResultBytes`, on by
 * default): every case's body is small, and only those with headers to replay go to the store.
 */
export function isInlined({ keptHeaders }: SameBytesCase): boolean {
  return !keptHeaders?.length;
}

/** What a host app registers for the matrix: its controller and its global filter. */
export const SAME_BYTES_APP: { controllers: Type[]; providers: Provider[] } = {
  controllers: [SameBytesController],
  providers: [{ provide: APP_FILTER, useClass: PaymentRequiredFilter }],
};
