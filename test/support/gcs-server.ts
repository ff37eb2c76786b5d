import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * The Firebase storage emulator's Cloud Storage JSON API, run in this process. Its public
 * entry (`firebase emulators:start`) needs Java 21 and downloads a rules runtime; the GCS
 * API does not use rules (it answers as an admin), so the emulator is built and served here
 * without them, through internal modules of firebase-tools (lib/emulator/storage), typed
 * below as far as they are used. Limits (see ENVIRONMENT.md): no chunked resumable uploads,
 * no ifGenerationMatch, no createBucket (a bucket exists once a request names it).
 */
const EMULATOR = 'firebase-tools/lib/emulator/storage/index.js';
const SERVER = 'firebase-tools/lib/emulator/storage/server.js';
const REGISTRY = 'firebase-tools/lib/emulator/registry.js';

interface EmulatorArgs {
  projectId: string;
  host: string;
  port: number;
  auto_download: boolean;
}
interface StorageEmulator {
  args: EmulatorArgs;
}
type StorageEmulatorClass = new (args: EmulatorArgs) => StorageEmulator;
type CreateApp = (
  projectId: string,
  emulator: StorageEmulator,
) => Promise<{ listen(port: number, host: string, ready: () => void): Server }>;
interface Registry {
  set(name: 'storage', emulator: StorageEmulator): void;
  clear(name: 'storage'): void;
}

const PROJECT = 'demo-media-test';

export interface GcsServer {
  /** http://127.0.0.1:<port>: GCS_API_ENDPOINT. */
  apiEndpoint: string;
  projectId: string;
  /** A new, empty bucket's name. */
  newBucket(): string;
  stop(): Promise<void>;
}

/** The storage emulator on a free port of 127.0.0.1, its objects in a temp dir. */
export async function startGcsServer(): Promise<GcsServer> {
  const { StorageEmulator } = require(EMULATOR) as { StorageEmulator: StorageEmulatorClass };
  const { createApp } = require(SERVER) as { createApp: CreateApp };
  const { EmulatorRegistry } = require(REGISTRY) as { EmulatorRegistry: Registry };
  const directory = mkdtempSync(join(tmpdir(), 'media-test-gcs-'));
  // It keeps uploads under os.tmpdir()/firebase/storage/blobs, shared by every emulator of the machine: not this one.
  class IsolatedEmulator extends StorageEmulator {
    getPersistenceTmpDir(): string {
      return directory;
    }
  }
  const emulator = new IsolatedEmulator({ projectId: PROJECT, host: '127.0.0.1', port: 0, auto_download: false });
  const app = await createApp(PROJECT, emulator);
  const server = await new Promise<Server>((resolve) => {
    const listening: Server = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  // Objects' metadata carries links built from the registered emulator's address.
  emulator.args.port = (server.address() as { port: number }).port;
  EmulatorRegistry.set('storage', emulator);
  let buckets = 0;
  return {
    apiEndpoint: `http://127.0.0.1:${emulator.args.port}`,
    projectId: PROJECT,
    newBucket: () => `test-${++buckets}`,
    stop: async () => {
      EmulatorRegistry.clear('storage');
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
