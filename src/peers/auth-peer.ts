import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { AuthClient } from './auth.client.js';

/** auth-service when AUTH_GRPC_URL is set (one client, one breaker, one token cache per process), else none. */
@Injectable()
export class AuthPeer implements OnModuleDestroy {
  readonly client?: AuthClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.peers.authUrl) this.client = new AuthClient({ url: config.peers.authUrl });
  }

  onModuleDestroy(): void {
    this.client?.close();
  }
}
