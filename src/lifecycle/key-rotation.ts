import { readFile } from 'node:fs/promises';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SignedUrls } from '../access/signed-url.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { parseKeyList } from '../config/load-config.js';
import { DataKeyService } from '../crypto/data-key.service.js';
import { KeyRing } from '../crypto/key-ring.js';
import { KeysRepository } from '../db/keys.repository.js';

/** How often the key files are looked at (a Kubernetes Secret volume changes them in place). */
const POLL_MS = 30_000;

/**
 * Key rotation while the service serves (docs/operations.md, "Rotating keys"), in every
 * deployment, the embedded one included:
 * - the key lists are re-read from their files (MEDIA_MASTER_KEYS_FILE / SIGNED_URL_KEYS_FILE,
 *   or DATA_DIR's development secrets) on SIGHUP and whenever a file changes;
 * - SIGUSR2 re-wraps every data key under the current master key, in the background: blobs
 *   are not touched, and an interrupted run is resumed by the next one.
 * A master-key list that drops a key some data key still depends on is refused (logged, the
 * old list kept): it would make those files unreadable.
 */
@Injectable()
export class KeyRotation implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(KeyRotation.name);
  private readonly seen = new Map<string, string>();
  private poll?: NodeJS.Timeout;
  private rotating?: Promise<void>;
  private readonly onHangUp = () => void this.reload();
  private readonly onRotate = () => void this.rotate();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ring: KeyRing,
    private readonly signedUrls: SignedUrls,
    private readonly dataKeys: DataKeyService,
    private readonly keys: KeysRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const file of this.files()) this.seen.set(file, await readFile(file, 'utf8').catch(() => ''));
    process.on('SIGHUP', this.onHangUp);
    process.on('SIGUSR2', this.onRotate);
    this.poll = setInterval(() => void this.reloadIfChanged(), POLL_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    process.off('SIGHUP', this.onHangUp);
    process.off('SIGUSR2', this.onRotate);
    clearInterval(this.poll);
    await this.rotating;
  }

  /** Re-reads both key lists from their files; true when the lists in force are the files'. Never throws. */
  async reload(): Promise<boolean> {
    const { master, signedUrl } = this.config.keyFiles;
    try {
      if (master) {
        const keys = parseKeyList('MEDIA_MASTER_KEYS', await this.read(master));
        const needed = (await this.keys.countByMasterKey()).map((row) => row.masterKeyId);
        const dropped = needed.filter((id) => !keys.some((key) => key.id === id));
        if (dropped.length) {
          throw new Error(`data keys still depend on master key(s) ${dropped.join(', ')}: run the rotation first`);
        }
        this.ring.reload(keys);
      }
      if (signedUrl) this.signedUrls.reload(parseKeyList('SIGNED_URL_KEYS', await this.read(signedUrl)));
      this.logger.log(
        { masterKeys: this.ring.ids, current: this.ring.current.id },
        'keys reloaded: new data keys are wrapped with the current master key',
      );
      return true;
    } catch (error) {
      this.logger.error({ reason: (error as Error).message }, 'keys not reloaded: the keys in force are kept');
      return false;
    }
  }

  /** Reloads, then re-wraps every data key under the current master key (one run at a time). */
  rotate(): Promise<void> {
    this.rotating ??= this.rotateOnce().finally(() => (this.rotating = undefined));
    return this.rotating;
  }

  private async rotateOnce(): Promise<void> {
    if (!(await this.reload())) return;
    const current = this.ring.current.id;
    try {
      const { rewrapped } = await this.dataKeys.rotateAll((done) =>
        this.logger.log({ rewrapped: done }, 'key rotation under way'),
      );
      const left = (await this.keys.countByMasterKey()).filter((row) => row.masterKeyId !== current);
      this.logger.log({ rewrapped, current, left }, 'key rotation done');
    } catch (error) {
      this.logger.error({ reason: (error as Error).message }, 'key rotation interrupted: SIGUSR2 resumes it');
    }
  }

  private files(): string[] {
    return [this.config.keyFiles.master, this.config.keyFiles.signedUrl].filter((file): file is string => !!file);
  }

  private async read(file: string): Promise<string> {
    const text = await readFile(file, 'utf8');
    this.seen.set(file, text);
    return text.trim();
  }

  private async reloadIfChanged(): Promise<void> {
    for (const file of this.files()) {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined && text !== this.seen.get(file)) {
        await this.reload();
        return;
      }
    }
  }
}
