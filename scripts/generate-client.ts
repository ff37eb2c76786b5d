/**
 * npm run client
 * Writes clients/typescript/schema.d.ts from the OpenAPI document the service serves
 * (GET /api/docs-json). No database is needed: the app is created but never initialised
 * (nothing connects before init), and only its document route is served, on a loopback
 * port, from a temp DATA_DIR removed at the end.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/load-config.js';

/** Plain CommonJS beside this script's source (the drift test runs it too), found from the root where npm runs scripts. */
const { CLIENT_SCHEMA_PATH, renderClientSchema } = require(resolve('scripts', 'client-schema.cjs')) as {
  CLIENT_SCHEMA_PATH: string;
  renderClientSchema(document: object): Promise<string>;
};

/** A port nothing listens on: the app is never initialised, so it never connects. */
const NO_DATABASE = 'postgresql://127.0.0.1:1/none';

async function servedDocument(): Promise<object> {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-client-'));
  try {
    const app = await createApp(
      loadConfig({
        NODE_ENV: 'development',
        LOG_LEVEL: 'silent',
        DATA_DIR: dataDir,
        DATABASE_URL: NO_DATABASE,
        GRPC_PORT: '0',
      }),
    );
    // The app's Express instance, not app.listen(): listening would initialise the app.
    const server = createServer(app.getHttpAdapter().getInstance());
    try {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/docs-json`);
      if (!response.ok) throw new Error(`GET /api/docs-json answered ${response.status}`);
      return (await response.json()) as object;
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await app.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const schema = await renderClientSchema(await servedDocument());
  if (existsSync(CLIENT_SCHEMA_PATH) && readFileSync(CLIENT_SCHEMA_PATH, 'utf8') === schema) {
    return void process.stdout.write(`${CLIENT_SCHEMA_PATH}: up to date\n`);
  }
  writeFileSync(CLIENT_SCHEMA_PATH, schema);
  process.stdout.write(`${CLIENT_SCHEMA_PATH}: written\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`client: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
