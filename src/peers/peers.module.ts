import { Module } from '@nestjs/common';
import { MetricsModule } from '../observability/metrics.module.js';
import { AuthPeer } from './auth-peer.js';
import { ModerationPeer } from './moderation-peer.js';
import { UserPeer } from './user-peer.js';

/** The services outside this repository we call, one provider each. */
@Module({
  imports: [MetricsModule],
  providers: [AuthPeer, ModerationPeer, UserPeer],
  exports: [AuthPeer, ModerationPeer, UserPeer],
})
export class PeersModule {}
