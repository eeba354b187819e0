/**
 * OpenAPI (README, “Tables”): with `@nestjs/swagger` in the host app, the document that
 * `SwaggerModule.createDocument()` builds shows what nestjs-bgrs adds. A `@BackgroundCapable()` route (on the
 * method or on its controller class) documents the `bgrs` query parameter with its values, the `Prefer` header and
 * the early `202 {"request": rid}` answer; a route that is not capable shows none of it. The lookup endpoints are
 * there under the `bgrs` tag with their `rid` path parameter, and the record of `GET /bgrs/{rid}` has exactly the
 * field names of the README's “Lookup endpoints”. (That the library works without `@nestjs/swagger` is test/package.spec.ts.)
 */
import 'reflect-metadata';
import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import assert from 'node:assert/strict';
import { RECORD_FIELDS } from './support/http.js';
import { after, before, describe, it } from 'node:test';
import { BackgroundCapable } from '../src/index.js';
import { startTestApp, type TestApp } from './support/app.js';

/** A row of `GET /bgrs/:rid/details`. */
const DETAIL_FIELDS = ['id', 'rid', 'dt', 'details'];
/** The values of `bgrs` that ask for a background run, and those that ask for none. */
const BGRS_YES = ['yes', '1', 'true'];
const BGRS_NO = ['no', '0', 'false'];

@Controller('reports')
class ReportsController {
  @Get('slow')
  @BackgroundCapable()
  slow() {
    return { report: 'slow' };
  }

  @Get('plain')
  plain() {
    return { report: 'plain' };
  }

  @Post('runs')
  @BackgroundCapable()
  run() {
    return { run: 'started' };
  }

  @BackgroundCapable()
  @Get('accepted')
  @HttpCode(202)
  accepted() {
    return { accepted: true };
  }
}

/** A base CRUD controller: its routes are inherited by a capable controller. */
abstract class CrudController {
  @Get()
  findAll() {
    return [];
  }
}

@Controller('items')
@BackgroundCapable()
class ItemsController extends CrudController {}

@Controller('exports')
@BackgroundCapable()
class ExportsController {
  @Get()
  list() {
    return [];
  }

  @Post('csv')
  csv() {
    return { export: 'csv' };
  }
}

type Operation = Record<string, any>;

/** The operation of `method` at `path`, failing with the paths there are when it is missing. */
function operationOf(document: OpenAPIObject, method: string, path: string): Operation {
  const operation = (document.paths[path] as Record<string, Operation> | undefined)?.[method];
  assert.ok(operation, `no ${method.toUpperCase()} ${path} in ${JSON.stringify(Object.keys(document.paths))}`);
  return operation;
}

function parameterOf(operation: Operation, location: string, name: string): Operation | undefined {
  return (operation.parameters ?? []).find(
    (parameter: Operation) => parameter.in === location && parameter.name.toLowerCase() === name.toLowerCase(),
  );
}

/** A schema with `$ref`s into `components.schemas` followed. */
function resolve(document: OpenAPIObject, schema: Operation | undefined): Operation | undefined {
  if (schema?.$ref) {
    const name = String(schema.$ref).replace('#/components/schemas/', '');
    return resolve(document, document.components?.schemas?.[name] as Operation | undefined);
  }
  return schema;
}

/** The schema of a response (OpenAPI 3: under `content`), resolved. */
function responseSchemaOf(document: OpenAPIObject, operation: Operation, status: string): Operation | undefined {
  const response = operation.responses?.[status];
  assert.ok(response, `no ${status} response in ${JSON.stringify(Object.keys(operation.responses ?? {}))}`);
  const content = response.content as Record<string, { schema?: Operation }> | undefined;
  const schemas = Object.values(content ?? {}).map((media) => resolve(document, media.schema));
  return schemas.find(Boolean);
}

/** The query parameter `bgrs` with its values, the `Prefer` header, and the `202 {"request": rid}` answer. */
function assertDocumentsBackground(document: OpenAPIObject, method: string, path: string): void {
  const operation = operationOf(document, method, path);
  const where = `${method.toUpperCase()} ${path}`;

  const bgrs = parameterOf(operation, 'query', 'bgrs');
  assert.ok(bgrs, `${where}: no bgrs query parameter in ${JSON.stringify(operation.parameters)}`);
  assert.notEqual(bgrs.required, true, `${where}: bgrs must be optional`);
  const values: unknown[] = bgrs.schema?.enum ?? bgrs.enum ?? [];
  for (const value of [...BGRS_YES, ...BGRS_NO]) {
    assert.ok(values.includes(value), `${where}: bgrs values ${JSON.stringify(values)} lack ${value}`);
  }

  const prefer = parameterOf(operation, 'header', 'Prefer');
  assert.ok(prefer, `${where}: no Prefer header in ${JSON.stringify(operation.parameters)}`);
  assert.notEqual(prefer.required, true, `${where}: Prefer must be optional`);

  const accepted = responseSchemaOf(document, operation, '202');
  assert.ok(accepted, `${where}: the 202 answer has no schema: ${JSON.stringify(operation.responses['202'])}`);
  assert.equal(accepted.type, 'object');
  assert.deepEqual(Object.keys(accepted.properties ?? {}), ['request']);
  assert.deepEqual(accepted.required, ['request']);
  const request = resolve(document, accepted.properties.request)!;
  assert.equal(request.type, 'string');
  assert.equal(request.pattern, '^[0-9a-f]{32}$');
  assert.match(String(request.example), new RegExp(request.pattern));
}

describe('OpenAPI with @nestjs/swagger', () => {
  let testApp: TestApp;
  let document: OpenAPIObject;

  before(async () => {
    testApp = await startTestApp({ controllers: [ReportsController, ExportsController, ItemsController] });
    document = SwaggerModule.createDocument(testApp.app, new DocumentBuilder().build());
  });

  after(async () => {
    await testApp?.close();
  });

  it('a method-level @BackgroundCapable() route documents bgrs, Prefer and the 202 answer', () => {
    assertDocumentsBackground(document, 'get', '/reports/slow');
  });

  it('a method-level @BackgroundCapable() route keeps documenting its own answer (200, 201, its @HttpCode)', () => {
    for (const [method, path, status] of [
      ['get', '/reports/slow', '200'],
      ['post', '/reports/runs', '201'],
      ['get', '/reports/accepted', '202'],
    ]) {
      const { responses } = operationOf(document, method, path);
      assert.ok(responses?.[status], `${method} ${path}: no ${status} in ${JSON.stringify(Object.keys(responses))}`);
      assertDocumentsBackground(document, method, path);
    }
  });

  it('routes inherited by a class-level @BackgroundCapable() controller document them, and their own answer', () => {
    assertDocumentsBackground(document, 'get', '/items');
    assert.ok(operationOf(document, 'get', '/items').responses?.['200']);
  });

  it('every route of a class-level @BackgroundCapable() controller documents them', () => {
    assertDocumentsBackground(document, 'get', '/exports');
    assertDocumentsBackground(document, 'post', '/exports/csv');
  });

  it('a route that is not capable documents none of it', () => {
    const operation = operationOf(document, 'get', '/reports/plain');
    assert.equal(parameterOf(operation, 'query', 'bgrs'), undefined, JSON.stringify(operation.parameters));
    assert.equal(parameterOf(operation, 'header', 'Prefer'), undefined, JSON.stringify(operation.parameters));
    assert.equal(operation.responses?.['202'], undefined, JSON.stringify(operation.responses));
  });

  it('the lookup endpoints are under the bgrs tag, with the rid path parameter', () => {
    const lookups = [
      { method: 'get', path: '/bgrs' },
      { method: 'get', path: '/bgrs/{rid}' },
      { method: 'delete', path: '/bgrs/{rid}' },
      { method: 'get', path: '/bgrs/{rid}/details' },
      { method: 'get', path: '/bgrs/{rid}/events' },
      { method: 'get', path: '/bgrs/{rid}/result' },
    ];
    for (const { method, path } of lookups) {
      const operation = operationOf(document, method, path);
      const where = `${method.toUpperCase()} ${path}`;
      assert.deepEqual(operation.tags, ['bgrs'], `${where}: tags ${JSON.stringify(operation.tags)}`);
      const rid = parameterOf(operation, 'path', 'rid');
      if (path.includes('{rid}')) {
        assert.ok(rid, `${where}: no rid path parameter in ${JSON.stringify(operation.parameters)}`);
        assert.equal(rid.required, true, `${where}: a path parameter is required`);
        assert.equal(resolve(document, rid.schema)?.pattern, '^[0-9a-f]{32}$', `${where}: ${JSON.stringify(rid)}`);
      } else {
        assert.equal(rid, undefined, `${where}: ${JSON.stringify(operation.parameters)}`);
      }
    }
    // Only lookups are tagged bgrs: the host's own routes are not.
    const tagged = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods as Record<string, Operation>)
        .filter(([, operation]) => operation?.tags?.includes('bgrs'))
        .map(([method]) => `${method} ${path}`),
    );
    assert.deepEqual(
      tagged.sort(),
      lookups.map(({ method, path }) => `${method} ${path}`).sort(),
      `tagged bgrs: ${JSON.stringify(tagged)}`,
    );
  });

  it('GET /bgrs and GET /bgrs/{rid} answer an array of records with exactly the fields of the record', () => {
    for (const path of ['/bgrs', '/bgrs/{rid}']) {
      const answer = responseSchemaOf(document, operationOf(document, 'get', path), '200');
      assert.equal(answer?.type, 'array', `GET ${path}: ${JSON.stringify(answer)}`);
      const record = resolve(document, answer.items)!;
      assert.equal(record.type, 'object');
      assert.deepEqual(Object.keys(record.properties ?? {}).sort(), [...RECORD_FIELDS].sort(), `GET ${path}`);
      assert.deepEqual(resolve(document, record.properties.status_name)?.enum?.slice().sort(), [
        'cancelled',
        'created',
        'failed',
        'finished',
        'processing',
        'queued',
      ]);
    }
  });

  it('GET /bgrs documents its status, limit and before query parameters', () => {
    const operation = operationOf(document, 'get', '/bgrs');
    for (const name of ['status', 'limit', 'before']) {
      const parameter = parameterOf(operation, 'query', name);
      assert.ok(parameter, `GET /bgrs: no ${name} in ${JSON.stringify(operation.parameters)}`);
      assert.notEqual(parameter.required, true, `GET /bgrs: ${name} must be optional`);
    }
    const limit = parameterOf(operation, 'query', 'limit')!.schema;
    assert.deepEqual(
      { minimum: limit.minimum, maximum: limit.maximum, default: limit.default },
      {
        minimum: 1,
        maximum: 100,
        default: 20,
      },
    );
  });

  it('GET /bgrs/{rid}/details answers an array of {id, rid, dt, details}', () => {
    const details = responseSchemaOf(document, operationOf(document, 'get', '/bgrs/{rid}/details'), '200');
    assert.equal(details?.type, 'array');
    assert.deepEqual(Object.keys(resolve(document, details.items)?.properties ?? {}).sort(), [...DETAIL_FIELDS].sort());
  });

  it('GET /bgrs/{rid}/events documents its 200 answer as text/event-stream', () => {
    const events = operationOf(document, 'get', '/bgrs/{rid}/events');
    assert.ok(events.responses?.['200'], JSON.stringify(events.responses));
    const produces = Object.keys(events.responses['200'].content ?? {});
    assert.ok(
      produces.includes('text/event-stream'),
      `GET /bgrs/{rid}/events: the 200 answer has no text/event-stream content: ${JSON.stringify(events.responses['200'])}`,
    );
  });
});
