import {
  createParamDecorator,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { Request } from 'express';

/** The demo's idea of a logged-in user. A real app has its own (JWT, sessions, API keys, …). */
export interface DemoUser {
  id: number;
}

type DemoRequest = Request & { user?: DemoUser };

/**
 * DEMO ONLY, not authentication: `Authorization: Bearer demo-<id>` makes you user `<id>`, no header makes you
 * user 1, anything else is a 401. It exists so that `user_id` is filled in and a guard rejection can be seen
 * answering at once, with or without `?bgrs=yes`.
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<DemoRequest>();
    const header = request.headers.authorization;
    if (header === undefined) {
      request.user = { id: 1 };
      return true;
    }
    const match = /^Bearer demo-([1-9][0-9]{0,8})$/.exec(header);
    if (!match) {
      throw new UnauthorizedException('Demo auth: send "Authorization: Bearer demo-<id>" or no header at all');
    }
    request.user = { id: Number(match[1]) };
    return true;
  }
}

/** The user the guard put on the request. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): DemoUser =>
    context.switchToHttp().getRequest<DemoRequest>().user ?? { id: 1 },
);
