import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { DecryptionError } from './segment-format.js';

export interface MasterKey {
  id: string;
  key: Buffer;
}

/**
 * The master keys of MEDIA_MASTER_KEYS (or MEDIA_MASTER_KEYS_FILE): the first wraps new data
 * keys, all of them unwrap. Replaced whole by `reload` while the service serves (key rotation).
 */
@Injectable()
export class KeyRing {
  private keys!: Map<string, MasterKey>;
  private first!: MasterKey;

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'masterKeys'>) {
    this.reload(config.masterKeys);
  }

  get current(): MasterKey {
    return this.first;
  }

  get ids(): string[] {
    return [...this.keys.keys()];
  }

  reload(keys: MasterKey[]): void {
    this.keys = new Map(keys.map((k) => [k.id, k]));
    this.first = keys[0];
  }

  get(id: string): MasterKey {
    const key = this.keys.get(id);
    if (!key) throw new DecryptionError(`master key "${id}" is not configured`);
    return key;
  }
}
