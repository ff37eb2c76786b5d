import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { MediaModule } from '../media/media.module.js';
import { AuthGuard } from './auth/auth.guard.js';
import { RateLimitGuard } from './auth/rate-limit.guard.js';
import { RolesGuard } from './auth/roles.guard.js';
import { MediaController } from './media.controller.js';

/** The REST edge. Guards run in this order: token, rate limit, roles. (The error filter is global: see bootstrap.ts.) */
@Module({
  imports: [MediaModule],
  controllers: [MediaController],
  providers: [
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
})
export class HttpModule {}
