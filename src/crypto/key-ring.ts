import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { DecryptionError } from './segment-format.js';

export interface MasterKey {
  id: string;
  key: Buffer;
}

/** The master keys of MEDIA_MASTER_KEYS: the first wraps new data keys, all of them unwrap. */
@Injectable()
export class KeyRing {
  private readonly keys: Map<string, MasterKey>;
  readonly current: MasterKey;

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'masterKeys'>) {
    this.keys = new Map(config.masterKeys.map((k) => [k.id, k]));
    this.current = config.masterKeys[0];
  }

  get(id: string): MasterKey {
    const key = this.keys.get(id);
    if (!key) throw new DecryptionError(`master key "${id}" is not configured`);
    return key;
  }
}
