import { applyDecorators, RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { createRequire } from 'node:module';
import { BGRS_NO_VALUES, BGRS_STATUS_NAMES, BGRS_YES_VALUES } from '../bgrs.constants.js';
import { RID_PATTERN } from '../util/rid.js';

type Swagger = typeof import('@nestjs/swagger');
type AnyDecorator = ClassDecorator & MethodDecorator;

/** `@nestjs/swagger` is an optional peer: without it, these decorators document nothing and cost nothing. */
const swagger: Swagger | undefined = (() => {
  try {
    return createRequire(import.meta.url)('@nestjs/swagger') as Swagger;
  } catch {
    return undefined;
  }
})();

const RID = { type: 'string', pattern: RID_PATTERN.source, example: '4ff7cc2d88b1de88e83cce3f1caa1509' };
const TEXT = { type: 'string' };
const NULLABLE_TEXT = { type: 'string', nullable: true };
const DATE = { type: 'string', example: '2017-12-26 18:21:52' };

const RECORD = {
  type: 'object',
  properties: {
    id: { ...TEXT, example: '267' },
    rid: RID,
    user_id: NULLABLE_TEXT,
    name: { ...TEXT, example: '/v2.5/users/me?bgrs=yes' },
    created_dt: DATE,
    status_id: { ...TEXT, example: '4' },
    status_name: { type: 'string', enum: Object.values(BGRS_STATUS_NAMES) },
    progress: { ...TEXT, example: '100.00' },
    finished_dt: { ...DATE, nullable: true },
    status: { ...NULLABLE_TEXT, example: '200' },
    content_type: { ...NULLABLE_TEXT, example: 'application/json; charset=utf-8' },
    result: { ...NULLABLE_TEXT, example: 'media/keep1m.bgrs.4ff7cc2d88b1de88e83cce3f1caa1509.result.json' },
  },
};
const DETAIL = {
  type: 'object',
  properties: { id: { ...TEXT, example: '5802' }, rid: RID, dt: DATE, details: { ...TEXT, example: 'done' } },
};

function documented(decorators: (swagger: Swagger) => Array<ClassDecorator | MethodDecorator>): AnyDecorator {
  return swagger ? (applyDecorators(...decorators(swagger)) as AnyDecorator) : () => undefined;
}

/** Where `@nestjs/swagger` keeps a route's documented responses (its `DECORATORS.API_RESPONSE`). */
const API_RESPONSE_METADATA = 'swagger/apiResponse';

/** The status Nest answers a route with: its `@HttpCode`, else 201 for POST and 200 otherwise. */
function routeStatusOf(handler: Function): number {
  return (
    Reflect.getMetadata(HTTP_CODE_METADATA, handler) ??
    (Reflect.getMetadata(METHOD_METADATA, handler) === RequestMethod.POST ? 201 : 200)
  );
}

/**
 * `@nestjs/swagger` documents a route's own answer (200, 201, its `@HttpCode`) only when no response is documented
 * on the method, so the 202 of a method-level `@BackgroundCapable()` would hide it. The route's own answer is kept
 * in the method's responses, read when the document is built: `@Get()`, `@Post()` or `@HttpCode()` may be applied
 * after this decorator.
 */
function keepRouteResponse(handler: Function): void {
  const responses: Record<string, unknown> = Reflect.getMetadata(API_RESPONSE_METADATA, handler) ?? {};
  const routeKey = (target: object) => {
    const key = String(routeStatusOf(handler));
    return key in target ? undefined : key;
  };
  const routeResponse = { value: { description: '' }, enumerable: true, configurable: true, writable: true };
  Reflect.defineMetadata(
    API_RESPONSE_METADATA,
    new Proxy(responses, {
      ownKeys: (target) => {
        const key = routeKey(target);
        return key ? [key, ...Reflect.ownKeys(target)] : Reflect.ownKeys(target);
      },
      getOwnPropertyDescriptor: (target, key) =>
        key === routeKey(target) ? routeResponse : Reflect.getOwnPropertyDescriptor(target, key),
      get: (target, key) => (key === routeKey(target) ? routeResponse.value : Reflect.get(target, key)),
      has: (target, key) => key === routeKey(target) || Reflect.has(target, key),
    }),
    handler,
  );
}

/** Documents the `bgrs` query parameter, the `Prefer` header and the early `202` answer of a capable route. */
export function ApiBackgroundCapable(): AnyDecorator {
  const documentation = documentBackgroundCapable();
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const documentsOwnAnswer = descriptor && swagger && !Reflect.hasMetadata(API_RESPONSE_METADATA, descriptor.value);
    documentation(target, key!, descriptor!);
    if (documentsOwnAnswer) {
      keepRouteResponse(descriptor.value);
    }
  }) as AnyDecorator;
}

function documentBackgroundCapable(): AnyDecorator {
  return documented(({ ApiHeader, ApiQuery, ApiResponse }) => [
    ApiQuery({
      name: 'bgrs',
      required: false,
      enum: [...BGRS_YES_VALUES, ...BGRS_NO_VALUES.filter(Boolean)],
      description: 'Run the request in the background and answer 202 at once with its id.',
    }),
    ApiHeader({ name: 'Prefer', required: false, description: '`respond-async` runs the request in the background.' }),
    ApiResponse({
      status: 202,
      description: 'Accepted to run in the background: poll `Location` for its state and result.',
      headers: { Location: { description: 'The lookup URL, `/bgrs/<rid>`', schema: { type: 'string' } } },
      schema: { type: 'object', required: ['request'], properties: { request: RID } },
    }),
    ApiResponse({
      status: 503,
      description: 'Not accepted now (shutting down, queue full, database away): retry after `Retry-After`.',
    }),
  ]);
}

/** Documents one lookup endpoint. */
export function ApiBgrsLookup(
  summary: string,
  ok: 'record' | 'records' | 'details' | 'result' | 'events',
): AnyDecorator {
  return documented(({ ApiOperation, ApiParam, ApiQuery, ApiResponse }) => {
    const schemas = { record: RECORD, records: RECORD, details: DETAIL };
    const answer =
      ok === 'result'
        ? ApiResponse({
            status: 200,
            description: 'The original response, replayed: its status, Content-Type and bytes.',
          })
        : ok === 'events'
          ? ApiResponse({
              status: 200,
              description: '`state`, `detail` and `end` events.',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            })
          : ApiResponse({ status: 200, schema: { type: 'array', items: schemas[ok] } });
    return [
      ApiOperation({ summary }),
      ...(ok === 'records'
        ? [
            ApiQuery({ name: 'status', required: false, enum: Object.values(BGRS_STATUS_NAMES) }),
            ApiQuery({
              name: 'limit',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            }),
            ApiQuery({
              name: 'before',
              required: false,
              description: 'The `id` of the last request of the previous page.',
            }),
          ]
        : [ApiParam({ name: 'rid', schema: RID }), ApiResponse({ status: 404, description: 'Unknown request id.' })]),
      answer,
      ApiResponse({ status: 400, description: 'Malformed request id or query.' }),
      ...(ok === 'result' || ok === 'record'
        ? [ApiResponse({ status: 409, description: 'Not finished yet (result), or ended already (cancel).' })]
        : []),
    ];
  });
}

/** Groups the lookup endpoints under one tag. */
export function ApiBgrsTags(): AnyDecorator {
  return documented(({ ApiTags }) => [ApiTags('bgrs')]);
}
