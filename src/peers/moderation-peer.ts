import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../observability/metrics.js';
import { ModerationClient } from './moderation.client.js';

/** moderation-service when MODERATION_GRPC_URL is set (one client, one breaker per process), else none. */
@Injectable()
export class ModerationPeer implements OnModuleDestroy {
  readonly client?: ModerationClient;

  constructor(
    @Inject(APP_CONFIG) readonly config: AppConfig,
    metrics: Metrics,
  ) {
    if (config.peers.moderationUrl) {
      const client = new ModerationClient({
        url: config.peers.moderationUrl,
        observe: metrics.peerObserver('moderation'),
      });
      metrics.watchBreaker('moderation', () => client.breakerState);
      this.client = client;
    }
  }

  /** `closed` (default): a failed call is the caller's 503; `open`: the caller goes on without the peer. */
  get failsOpen(): boolean {
    return this.config.moderationFailureMode === 'open';
  }

  onModuleDestroy(): void {
    this.client?.close();
  }
}
