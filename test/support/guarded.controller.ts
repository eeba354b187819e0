/**
 * A host app whose routes a bearer-token guard protects and a ValidationPipe checks (`queue-guards.spec.ts`): the
 * guard looks its token up in the table `test_tokens` of the app's database, so that the accepting app and its
 * worker in another process see a revocation alike, and sets `req.user` from it. Booted by the test in process and
 * by `test/fixtures/queue-worker-app.ts` as a worker.
 */
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  ValidationPipe,
  type CanActivate,
  type ExecutionContext,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { IsInt, IsString, Length, Min } from 'class-validator';
import { DataSource } from 'typeorm';
import { BackgroundCapable } from '../../src/index.js';
import type { TestDatabase } from './database.js';

/** A user as the guard leaves it on the request. */
export interface TokenUser {
  id: number;
  name: string;
  roles: string[];
}

/** Creates the guard's table in the app's database. */
export async function createTokenTable(db: TestDatabase): Promise<void> {
  await db.query(
    'CREATE TABLE test_tokens (token VARCHAR(64) PRIMARY KEY, user_json TEXT NOT NULL, ' +
      'revoked TINYINT NOT NULL DEFAULT 0)',
  );
}

export async function issueToken(db: TestDatabase, token: string, user: TokenUser): Promise<void> {
  await db.query('INSERT INTO test_tokens (token, user_json) VALUES (?, ?)', [token, JSON.stringify(user)]);
}

export async function revokeToken(db: TestDatabase, token: string): Promise<void> {
  await db.query('UPDATE test_tokens SET revoked = 1 WHERE token = ?', [token]);
}

/** `Authorization: Bearer <token>` of a token that is known and not revoked, or 401. */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  constructor(private readonly dataSource: DataSource) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest();
    const token = /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
    if (!token) {
      throw new UnauthorizedException('a bearer token is required');
    }
    const [row] = await this.dataSource.query<Array<{ user_json: string }>>(
      'SELECT user_json FROM test_tokens WHERE token = ? AND revoked = 0',
      [token],
    );
    if (!row) {
      throw new UnauthorizedException('unknown or revoked token');
    }
    request.user = JSON.parse(row.user_json) as TokenUser;
    return true;
  }
}

export class OrderDto {
  @IsString()
  @Length(1, 40)
  item: string;

  @IsInt()
  @Min(1)
  quantity: number;

  @IsString()
  note: string;
}

@Controller('guarded')
@UseGuards(BearerTokenGuard)
@BackgroundCapable()
export class GuardedController {
  @Get('me')
  me(@Req() request: { user?: TokenUser }) {
    return { user: request.user ?? null };
  }

  @Post('orders')
  @HttpCode(201)
  order(@Req() request: { user?: TokenUser }, @Body() order: OrderDto) {
    return { user: request.user ?? null, order, validated: order instanceof OrderDto };
  }
}

/** What a host app registers: the controller and a global ValidationPipe. */
export const GUARDED_APP: { controllers: Type[]; providers: Provider[] } = {
  controllers: [GuardedController],
  providers: [
    {
      provide: APP_PIPE,
      useFactory: () => new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    },
  ],
};
