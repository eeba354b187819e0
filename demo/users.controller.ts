import { Controller, Get } from '@nestjs/common';
import { BackgroundCapable } from 'nestjs-bgrs';
import { CurrentUser, type DemoUser } from './demo-auth.guard.js';

@Controller('v2.5/users')
export class UsersController {
  /** A quick JSON answer: the caller. `?bgrs=yes` works here too, as on every background-capable route. */
  @Get('me')
  @BackgroundCapable()
  me(@CurrentUser() user: DemoUser) {
    return { id: user.id, name: `Demo user ${user.id}`, email: `user${user.id}@example.com` };
  }
}
