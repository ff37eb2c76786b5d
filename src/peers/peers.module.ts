import { Module } from '@nestjs/common';
import { ModerationPeer } from './moderation-peer.js';

/** The services outside this repository we call, one provider each. */
@Module({ providers: [ModerationPeer], exports: [ModerationPeer] })
export class PeersModule {}
