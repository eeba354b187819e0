import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { toLookupError } from './bgrs-lookup-errors.js';
import { BgrsParseRidPipe } from './bgrs-parse-rid.pipe.js';
import { BgrsVisibleRequests } from './bgrs-visible-requests.service.js';

/** Where the guard leaves the request it found, for the handler. */
export const WATCHED_REQUEST = Symbol('bgrs:watched-request');

/**
 * Finds the request of an event stream before its handler starts the stream, so that an unknown rid is a JSON 404
 * like that of every other lookup: once the stream's headers are out, it could only be an `error` event. Guards
 * still answer as usual.
 */
@Injectable()
export class BgrsWatchedRequestGuard implements CanActivate {
  private readonly parseRid = new BgrsParseRidPipe();

  constructor(
    private readonly visible: BgrsVisibleRequests,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest();
    const rid = this.parseRid.transform(request.params?.rid);
    try {
      request[WATCHED_REQUEST] = await this.visible.find(rid, request);
    } catch (error) {
      throw toLookupError(error, http.getResponse(), this.adapterHost);
    }
    return true;
  }
}
