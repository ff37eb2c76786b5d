import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GrpcModule } from '../grpc/grpc.module.js';
import { MediaModule } from '../media/media.module.js';
import { PeersModule } from '../peers/peers.module.js';
import { BlocklistModule } from '../moderation/blocklist.module.js';
import { MetricsModule } from '../observability/metrics.module.js';
import { AuthGuard } from './auth/auth.guard.js';
import { Authenticator } from './auth/authenticator.js';
import { RateLimitGuard } from './auth/rate-limit.guard.js';
import { TusController } from './tus.controller.js';
import { MediaController } from './media.controller.js';
import { ModerationController } from './moderation.controller.js';

/** The REST edge, and the gRPC edge beside it. Guards run in this order: token, then rate limit. (The error filter is global: see bootstrap.ts.) */
@Module({
  imports: [MediaModule, BlocklistModule, MetricsModule, GrpcModule, PeersModule],
  controllers: [MediaController, TusController, ModerationController],
  providers: [
    Authenticator,
    AuthGuard,
    RateLimitGuard,
    { provide: APP_GUARD, useExisting: AuthGuard },
    { provide: APP_GUARD, useExisting: RateLimitGuard },
  ],
})
export class HttpModule {}
