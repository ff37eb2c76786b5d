/**
 * npm run keys:rotate: re-wraps every data key under the current (first) master key of
 * MEDIA_MASTER_KEYS. Blobs are not touched. Resumable: run it again after an interruption.
 * When it reports 0 keys left under other master keys, those keys can leave the environment.
 * When a running service owns DATA_DIR (its embedded PostgreSQL), the service does it: it is
 * sent SIGUSR2, re-reads its key files and re-wraps while it serves (its log says when done).
 */
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { DataDirInUseError } from '../src/db/data-dir-lock.js';
import { prepareDatabase } from '../src/db/database.js';
import { APP_CONFIG } from '../src/config/app-config.js';
import { loadConfig } from '../src/config/load-config.js';
import { CryptoModule } from '../src/crypto/crypto.module.js';
import { DataKeyService } from '../src/crypto/data-key.service.js';
import { DbModule } from '../src/db/db.module.js';
import { KeysRepository } from '../src/db/keys.repository.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const database = await prepareDatabase(config).catch((error: unknown) => {
    if (!(error instanceof DataDirInUseError) || !error.ownerPid) throw error;
    process.kill(error.ownerPid, 'SIGUSR2');
    process.stdout.write(
      `the service running on DATA_DIR (pid ${error.ownerPid}) was asked to rotate (SIGUSR2): it re-reads its key ` +
        `files and re-wraps every data key while it serves; its log says "key rotation done" with what is left\n`,
    );
    return undefined;
  });
  if (!database) return;
  @Module({
    imports: [DbModule, CryptoModule],
    providers: [{ provide: APP_CONFIG, useValue: { ...config, databaseUrl: database.url } }],
    exports: [APP_CONFIG],
  })
  class RotationModule {}
  const app = await NestFactory.createApplicationContext(
    { module: RotationModule, global: true },
    { logger: ['error'] },
  );
  try {
    const current = config.masterKeys[0].id;
    const { rewrapped } = await app
      .get(DataKeyService)
      .rotateAll((done) => process.stdout.write(`re-wrapped ${done} data keys\n`));
    const left = (await app.get(KeysRepository).countByMasterKey()).filter((row) => row.masterKeyId !== current);
    process.stdout.write(`done: ${rewrapped} data keys re-wrapped to master key "${current}"\n`);
    for (const row of left) process.stdout.write(`still under "${row.masterKeyId}": ${row.count}\n`);
    if (!left.length) process.stdout.write('no data key depends on another master key: the old keys may be removed\n');
  } finally {
    await app.close();
    await database.stop();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`rotation failed: ${error.message}\n`);
  process.exit(1);
});
