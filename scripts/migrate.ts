/** npm run migrate: applies pending migrations to DATABASE_URL, or to the embedded server under DATA_DIR. */
import { prepareDatabase } from '../src/db/database.js';
import { loadConfig } from '../src/config/load-config.js';

async function main(): Promise<void> {
  const database = await prepareDatabase(loadConfig(), (line) => process.stdout.write(`${line}\n`));
  await database.stop();
}

main().catch((error: Error) => {
  process.stderr.write(`migration failed: ${error.message}\n`);
  process.exit(1);
});
