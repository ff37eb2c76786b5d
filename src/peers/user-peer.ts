import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UserClient } from './user.client.js';

/** user-service when USER_GRPC_URL is set (one client, one breaker, one quota cache per process), else none. */
@Injectable()
export class UserPeer implements OnModuleDestroy {
  readonly client?: UserClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.peers.userUrl) this.client = new UserClient({ url: config.peers.userUrl });
  }

  onModuleDestroy(): void {
    this.client?.close();
  }
}
