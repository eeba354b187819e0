import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Injectable,
  ParseIntPipe,
  Post,
  Query,
  UseGuards,
  ValidationPipe,
  type CanActivate,
} from '@nestjs/common';
import { IsInt, IsString, Length, Min } from 'class-validator';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable } from '../src/index.js';
import { adapters, startTestApp, type TestAdapter, type TestApp } from './support/app.js';
import { Gates } from './support/gate.js';
import { jsonOf, RID_PATTERN, resultOf, sendRaw, waitForStatus, withBgrs, type RawRequest } from './support/http.js';

const gates = new Gates();
/** Names of the gated handlers whose body has run to its end. */
const completed = new Set<string>();

@Injectable()
class DenyAllGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

class CreateOrderDto {
  @IsString()
  @Length(1, 20)
  sku: string;

  @IsInt()
  @Min(1)
  quantity: number;
}

@Controller('early')
@BackgroundCapable()
class EarlyAnswerController {
  /** Carries its own status and headers, which must not leak into the early answer; waits on its gate. */
  @Get('held-csv')
  @HttpCode(201)
  @Header('Content-Type', 'text/csv')
  @Header('X-Route-Header', 'route')
  async heldCsv(@Query('gate') gate: string) {
    await gates.wait(gate);
    completed.add(gate);
    return 'a,b\r\n1,2\r\n';
  }

  /** A 204 route would swallow the early answer's body if its status leaked. */
  @Get('held-204')
  @HttpCode(204)
  async held204(@Query('gate') gate: string) {
    await gates.wait(gate);
    completed.add(gate);
  }

  @Get('guarded')
  @UseGuards(DenyAllGuard)
  guarded() {
    return { secret: true };
  }

  @Get('int')
  int(@Query('n', ParseIntPipe) n: number) {
    return { n };
  }

  @Post('orders')
  order(@Body(new ValidationPipe()) order: CreateOrderDto) {
    return { ordered: order.quantity };
  }
}

function earlyAnswerSuite(adapter: TestAdapter): void {
  describe('the early answer', () => {
    let testApp: TestApp;

    before(async () => {
      testApp = await startTestApp({ adapter, controllers: [EarlyAnswerController] });
    });

    after(async () => {
      gates.openAll();
      await testApp?.close();
    });

    const heldRoutes = [
      { route: 'held-csv', status: 201, contentType: /^text\/csv/ },
      { route: 'held-204', status: 204, contentType: undefined },
    ];

    for (const { route, status, contentType } of heldRoutes) {
      it(`is 202 {"request": rid} with Location, before the handler of ${route} finishes, without its @HttpCode/@Header`, async () => {
        const gate = `${adapter.platform}-${route}-1`;
        const accepted = await sendRaw(testApp.http, { path: withBgrs(`/early/${route}?gate=${gate}`) });

        // The gate is still closed: the handler cannot have finished.
        assert.equal(completed.has(gate), false);
        assert.equal(accepted.status, 202);
        const rid = jsonOf(accepted).request;
        assert.match(rid, RID_PATTERN);
        assert.equal(accepted.body.toString('utf8'), `{"request":"${rid}"}`, 'exactly one key');
        assert.equal(accepted.headers['content-type'], 'application/json; charset=utf-8');
        assert.equal(accepted.headers.location, `/bgrs/${rid}`);
        assert.equal(accepted.headers['x-route-header'], undefined, "the route's @Header must not leak");
        assert.equal(accepted.headers['preference-applied'], undefined, 'no Prefer header was sent');

        // The record exists and is running while the handler waits.
        assert.equal((await waitForStatus(testApp.http, rid, 'processing')).status_name, 'processing');
        assert.equal(completed.has(gate), false);

        gates.open(gate);
        const record = await waitForStatus(testApp.http, rid, 'finished');
        assert.equal(completed.has(gate), true);
        assert.equal(record.status, String(status), "the result keeps the route's own status");
        const result = await resultOf(testApp.http, rid);
        assert.equal(result.status, status);
        if (contentType) {
          assert.match(result.headers['content-type'] ?? '', contentType);
        }

        // And the result is what the same route answers in the foreground on this platform.
        const foregroundGate = `${gate}-foreground`;
        gates.open(foregroundGate);
        const foreground = await sendRaw(testApp.http, { path: `/early/${route}?gate=${foregroundGate}` });
        assert.equal(record.content_type, foreground.headers['content-type'] ?? null, "the record's content_type");
        assert.equal(result.status, foreground.status, 'the status of the foreground answer');
        assert.equal(result.headers['content-type'], foreground.headers['content-type'], 'the foreground Content-Type');
        assert.equal(result.headers['x-route-header'], foreground.headers['x-route-header'], "the route's @Header");
        assert.ok(result.body.equals(foreground.body), 'the bytes of the foreground answer');
      });
    }

    describe('rejections by guards and pipes answer at once, as in the foreground, and create no record', () => {
      const rejected: Array<{ name: string; request: RawRequest; status: number }> = [
        { name: 'a guard (403)', request: { path: '/early/guarded' }, status: 403 },
        { name: 'ParseIntPipe on a query parameter', request: { path: '/early/int?n=twelve' }, status: 400 },
        {
          name: 'ValidationPipe on a DTO body',
          request: { method: 'post', path: '/early/orders', body: { sku: '', quantity: 0 } },
          status: 400,
        },
      ];

      for (const { name, request, status } of rejected) {
        it(name, async () => {
          const recordsBefore = await testApp.db.count('bgrs_requests');
          const foreground = await sendRaw(testApp.http, request);
          const background = await sendRaw(testApp.http, { ...request, path: withBgrs(request.path) });

          assert.equal(foreground.status, status, `foreground: ${foreground.body}`);
          assert.equal(background.status, foreground.status, `with bgrs: ${background.body}`);
          assert.equal(background.headers['content-type'], foreground.headers['content-type']);
          assert.deepEqual(jsonOf(background), jsonOf(foreground));
          assert.equal(background.headers.location, undefined);
          assert.equal(await testApp.db.count('bgrs_requests'), recordsBefore, 'no record may be created');
        });
      }

      const accepted: Array<{ name: string; request: RawRequest }> = [
        { name: 'ParseIntPipe', request: { path: '/early/int?n=12' } },
        {
          name: 'ValidationPipe',
          request: { method: 'post', path: '/early/orders', body: { sku: 'A-1', quantity: 3 } },
        },
      ];

      for (const { name, request } of accepted) {
        it(`while a request that ${name} lets through is accepted and runs with the transformed value`, async () => {
          const foreground = await sendRaw(testApp.http, request);
          const background = await sendRaw(testApp.http, { ...request, path: withBgrs(request.path) });
          assert.equal(background.status, 202);
          const rid = jsonOf(background).request;
          await waitForStatus(testApp.http, rid, 'finished');
          const result = await resultOf(testApp.http, rid);
          assert.equal(result.status, foreground.status);
          assert.deepEqual(jsonOf(result), jsonOf(foreground));
        });
      }
    });
  });
}

// One suite, run on each HTTP platform (as nestjs/throttler does with describe.each).
for (const adapter of adapters) {
  describe(adapter.name, () => earlyAnswerSuite(adapter));
}
