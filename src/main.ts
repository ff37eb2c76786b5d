import { createApp } from './bootstrap.js';
import { prepareDatabase } from './db/database.js';
import { ConfigError, loadConfig } from './config/load-config.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = (line: string) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg: line })}\n`);
  const database = await prepareDatabase(config, log);
  const app = await createApp({ ...config, databaseUrl: database.url });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    await app.close();
    await database.stop();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(signal));
  await app.listen(config.port, '0.0.0.0');
  log(`media-service (${config.role}) listening on port ${config.port}; storage=${config.storage.driver}; antivirus scanning=off (not built yet)`);
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : `start-up failed: ${(error as Error)?.stack ?? error}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
