import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../observability/metrics.js';
import { AuthClient } from './auth.client.js';

/** auth-service when AUTH_GRPC_URL is set (one client, one breaker, one token cache per process), else none. */
@Injectable()
export class AuthPeer implements OnModuleDestroy {
  readonly client?: AuthClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig, metrics: Metrics) {
    if (config.peers.authUrl) {
      const client = new AuthClient({ url: config.peers.authUrl, observe: metrics.peerObserver('auth') });
      metrics.watchBreaker('auth', () => client.breakerState);
      this.client = client;
    }
  }

  onModuleDestroy(): void {
    this.client?.close();
  }
}
