import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../observability/metrics.js';
import { UserClient } from './user.client.js';

/** user-service when USER_GRPC_URL is set (one client, one breaker, one quota cache per process), else none. */
@Injectable()
export class UserPeer implements OnModuleDestroy {
  readonly client?: UserClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig, metrics: Metrics) {
    if (config.peers.userUrl) {
      const client = new UserClient({ url: config.peers.userUrl, observe: metrics.peerObserver('user') });
      metrics.watchBreaker('user', () => client.breakerState);
      this.client = client;
    }
  }

  onModuleDestroy(): void {
    this.client?.close();
  }
}
