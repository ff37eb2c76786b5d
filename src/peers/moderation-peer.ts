import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ModerationClient } from './moderation.client.js';

/** moderation-service when MODERATION_GRPC_URL is set (one client, one breaker per process), else none. */
@Injectable()
export class ModerationPeer implements OnModuleDestroy {
  readonly client?: ModerationClient;

  constructor(@Inject(APP_CONFIG) readonly config: AppConfig) {
    if (config.peers.moderationUrl) this.client = new ModerationClient({ url: config.peers.moderationUrl });
  }

  /** `closed` (default): a failed call is the caller's 503; `open`: the caller goes on without the peer. */
  get failsOpen(): boolean {
    return this.config.moderationFailureMode === 'open';
  }

  onModuleDestroy(): void {
    this.client?.close();
  }
}
