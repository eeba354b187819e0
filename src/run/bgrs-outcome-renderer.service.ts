import { Injectable, StreamableFile, type ExecutionContext } from '@nestjs/common';
import { ExternalContextCreator, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import type { ExceptionsHandler } from '@nestjs/core/exceptions/exceptions-handler.js';
import { RouterExceptionFilters } from '@nestjs/core/router/router-exception-filters.js';
import {
  getWebResponseHeaders,
  inferContentType,
  isStreamingBody,
  isWebResponse,
  openStreamingBody,
  toReadable,
  toResponseChunk,
} from '@nestjs/core/router/streaming-body.js';
import type { ResponseRecorder } from '../platform/response-recorder.js';
import { nestContainerOf } from '../util/nest-container.js';

/**
 * Renders the outcome of a background handler into its recorder the way Nest renders a foreground one: values
 * through the platform adapter's `reply`, streams as files, and errors through the exception filters that apply
 * to the route (method, controller, global and `APP_FILTER`), falling back to Nest's default mapping.
 */
@Injectable()
export class BgrsOutcomeRenderer {
  private readonly moduleKeys = new Map<Function, string | undefined>();
  private exceptionFilters: RouterExceptionFilters | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly externalContextCreator: ExternalContextCreator,
    private readonly modules: ModulesContainer,
  ) {}

  async renderValue(value: unknown, response: unknown, recorder: ResponseRecorder): Promise<void> {
    const body = isStreamingBody(value) ? await this.toStreamableFile(value, recorder) : value;
    if (body instanceof StreamableFile) {
      const { type, disposition, length } = body.getHeaders();
      this.setIfMissing(recorder, 'Content-Type', type);
      this.setIfMissing(recorder, 'Content-Disposition', disposition);
      this.setIfMissing(recorder, 'Content-Length', length);
      await recorder.pipeFrom(body.getStream());
      return;
    }
    await this.adapterHost.httpAdapter.reply(response, body);
  }

  renderError(error: unknown, context: ExecutionContext, controller: object): void {
    this.exceptionsHandlerFor(context, controller).next(error as Error, context);
  }

  private exceptionsHandlerFor(context: ExecutionContext, controller: object): ExceptionsHandler {
    // The same filters as Nest's router builds for the route.
    const container = nestContainerOf(this.externalContextCreator);
    this.exceptionFilters ??= new RouterExceptionFilters(
      container,
      container.applicationConfig!,
      this.adapterHost.httpAdapter,
    );
    return this.exceptionFilters.create(
      controller,
      context.getHandler() as never,
      this.moduleKeyOf(context.getClass()),
    );
  }

  private moduleKeyOf(controller: Function): string | undefined {
    if (!this.moduleKeys.has(controller)) {
      const entry = [...this.modules].find(([, module]) => module.controllers.has(controller as never));
      this.moduleKeys.set(controller, entry?.[0]);
    }
    return this.moduleKeys.get(controller);
  }

  private setIfMissing(recorder: ResponseRecorder, name: string, value: string | string[] | number | undefined): void {
    if (value !== undefined && !recorder.hasHeader(name)) {
      recorder.setHeader(name, value);
    }
  }

  /** A web `Response`, `ReadableStream` or async iterable as Nest 12 sends it, minus the client-disconnect watch. */
  private async toStreamableFile(
    value: Response | ReadableStream | AsyncIterable<unknown>,
    recorder: ResponseRecorder,
  ) {
    const webResponse = isWebResponse(value) ? value : undefined;
    if (webResponse) {
      recorder.statusCode = webResponse.status;
      for (const [name, header] of getWebResponseHeaders(webResponse)) {
        recorder.setHeader(name, header);
      }
      for (const cookie of webResponse.headers.getSetCookie()) {
        recorder.appendHeader('Set-Cookie', cookie);
      }
    }
    const source = webResponse ? webResponse.body : (value as ReadableStream | AsyncIterable<unknown>);
    if (!source) {
      return undefined;
    }
    const iterator = openStreamingBody(source);
    const first = await iterator.next();
    if (first.done) {
      return undefined;
    }
    return new StreamableFile(toReadable(iterator, toResponseChunk(first.value)), {
      type: webResponse ? undefined : inferContentType(first.value),
    });
  }
}
