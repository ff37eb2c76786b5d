import { Module } from '@nestjs/common';
import { AuthPeer } from './auth-peer.js';
import { ModerationPeer } from './moderation-peer.js';
import { UserPeer } from './user-peer.js';

/** The services outside this repository we call, one provider each. */
@Module({ providers: [AuthPeer, ModerationPeer, UserPeer], exports: [AuthPeer, ModerationPeer, UserPeer] })
export class PeersModule {}
