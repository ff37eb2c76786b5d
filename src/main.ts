import { createApp } from './bootstrap.js';
import { ConfigError, loadConfig } from './config/load-config.js';
import { DataDirInUseError } from './db/data-dir-lock.js';
import { prepareDatabase } from './db/database.js';
import { InFlight } from './lifecycle/in-flight.js';
import { liveness } from './lifecycle/liveness.js';
import { asPortError, assertPortFree, PortUnavailableError } from './lifecycle/port.js';
import { handleStopSignals, Shutdown } from './lifecycle/shutdown.js';
import { servesGrpc } from './grpc/grpc-server.js';
import { startOtlpTracing, stopTracing } from './observability/tracing.js';

const HOST = '0.0.0.0';
const log = (line: string) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg: line })}\n`);
const shutdown = new Shutdown(log);

/** Refusals that the message alone explains: no stack trace. */
const REFUSALS = [ConfigError, PortUnavailableError, DataDirInUseError];

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.tracing.endpoint) {
    await startOtlpTracing(config.tracing.endpoint, config.tracing.serviceName);
    shutdown.defer('traces', stopTracing); // sends the spans still buffered
  }
  await assertPortFree(config.port, HOST);
  if (servesGrpc(config)) await assertPortFree(config.grpc.port, config.grpc.host, 'GRPC_PORT');
  // The embedded PostgreSQL is restarted when it dies; if that keeps failing, liveness fails and the process exits non-zero.
  const database = await prepareDatabase(config, log, {
    onGiveUp: (reason) => {
      liveness.fail('database', reason);
      void shutdown.run(reason).then(() => process.exit(1));
    },
  });
  shutdown.defer('database', () => database.stop());
  // Before the application starts, whose key rotation then adds its own SIGHUP listener.
  handleStopSignals((signal) => {
    void database.stopSupervising(); // a stopping database (Ctrl-C reaches it too) is not restarted
    void shutdown.run(signal).then(() => process.exit(0));
  });
  const app = await createApp({ ...config, databaseUrl: database.url });
  shutdown.defer('application', () => app.close());
  const inFlight = new InFlight(app.getHttpServer()); // state-changing routes hold it (HoldsShutdown)
  shutdown.drainFirst(inFlight, config.shutdownGraceMs);
  await app.listen(config.port, HOST).catch((error: unknown) => {
    throw asPortError(error, config.port);
  });
  log(
    `media-service (${config.role}) listening on http://localhost:${config.port} (port ${config.port}, pid ${process.pid}); storage=${config.storage.driver}; antivirus scanning=${config.clamavUrl ? 'on' : 'off'}; moderation-service=${config.peers.moderationUrl ? `on (failure mode ${config.moderationFailureMode})` : 'off'}; ` +
      `gRPC API=${servesGrpc(config) ? `${config.grpc.host}:${config.grpc.port}${config.grpc.apiToken ? ' (token required)' : ''}` : 'off'}`,
  );
}

main().catch(async (error: unknown) => {
  const refused = REFUSALS.some((kind) => error instanceof kind);
  process.stderr.write(
    `${refused ? (error as Error).message : `start-up failed: ${(error as Error)?.stack ?? error}`}\n`,
  );
  await shutdown.run('start-up failed');
  process.exit(1);
});
