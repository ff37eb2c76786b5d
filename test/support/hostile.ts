import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { TestApp } from './app';
import { query } from './database';
import { request } from './http';
import { waitFor } from './wait';

/*
 * Helpers of the hostile-input suite: what must hold after every hostile request (the
 * process answers, nothing kept, no temp file, no per-request tool left running), traps
 * that count outbound connections, and a raw HTTP client for requests no library sends.
 */

/** Tools a request starts and must have ended by the time it is answered. LibreOffice's listener is a long-lived helper, not one of them. */
const PER_REQUEST_TOOLS = new Set(['ffmpeg', 'ffprobe', 'pdfinfo', 'pdftoppm', 'unoconv', 'lsar', 'heif-convert']);

/** Descendants of this (jest worker) process running a per-request tool, as "pid command line". */
export function toolProcesses(root = process.pid): string[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const descends = (pid: number): boolean => {
    for (let at = parentOf.get(pid), hops = 0; at && hops < 64; at = parentOf.get(at), hops++)
      if (at === root) return true;
    return false;
  };
  const found: string[] = [];
  for (const pid of parentOf.keys()) {
    if (!descends(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    // unoconv is a Python script: its name is the second argument.
    if (argv.slice(0, 2).some((arg) => PER_REQUEST_TOOLS.has(basename(arg))))
      found.push(`${pid} ${argv.join(' ').slice(0, 200)}`);
  }
  return found;
}

/** Files under the app's blob storage (sealed blobs of stored media and previews). */
export function blobFiles(t: TestApp): string[] {
  try {
    return readdirSync(join(t.dataDir, 'storage'), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
}

export interface Usage {
  usedBytes: number;
  fileCount: number;
  uploadsToday: number;
}

export async function usageOf(t: TestApp, token: string): Promise<Usage> {
  const { status, json } = await request(`${t.url}/api/v1/media/storage`, { token });
  if (status !== 200) throw new Error(`storage answered ${status}`);
  return { usedBytes: json.usedBytes, fileCount: json.fileCount, uploadsToday: json.uploadsToday };
}

const count = async (t: TestApp, sql: string, owner: string) =>
  (await query<{ n: number }>(t.databaseUrl, sql, [owner]))[0].n;

/**
 * What must hold once a hostile request has been answered: the process is up, no temp
 * file or work directory and no per-request tool is left. For a refused upload, nothing
 * of `owner`'s is kept: no media row, no reservation, no blob, usage unchanged.
 * `settleMs`: grace for cleanups that follow a connection the client or server cut.
 */
export async function expectUnharmed(
  t: TestApp,
  options: { owner: string; token: string; refused: boolean; blobsBefore?: number; settleMs?: number },
): Promise<void> {
  const live = await request(`${t.url}/health/live`);
  expect(live.status).toBe(200);
  const reservations = () =>
    count(t, 'SELECT count(*)::int AS n FROM quota_reservations WHERE owner_id = $1', options.owner);
  if (options.settleMs) {
    const settled = async () =>
      t.tempFiles().length === 0 && toolProcesses().length === 0 && (await reservations()) === 0;
    await waitFor(settled, options.settleMs).catch(() => {});
  }
  expect(t.tempFiles()).toEqual([]);
  expect(toolProcesses()).toEqual([]);
  expect(await reservations()).toBe(0);
  if (!options.refused) return;
  expect(await count(t, 'SELECT count(*)::int AS n FROM media WHERE owner_id = $1', options.owner)).toBe(0);
  expect(await usageOf(t, options.token)).toEqual({ usedBytes: 0, fileCount: 0, uploadsToday: 0 });
  if (options.blobsBefore !== undefined) expect(blobFiles(t)).toHaveLength(options.blobsBefore);
}

/** Listeners on 127.0.0.1 that count who connects (a hostile file's network references point here). */
export interface Trap {
  ports: number[];
  /** Connections so far, to `port` or to any of them. */
  connections: (port?: number) => number;
  close(): Promise<void>;
}

export async function trapConnections(howMany: number): Promise<Trap> {
  const seen = new Map<number, number>();
  const servers = await Promise.all(
    Array.from({ length: howMany }, async () => {
      const server = net.createServer((socket) => {
        seen.set(socket.localPort!, (seen.get(socket.localPort!) ?? 0) + 1);
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  return {
    ports: servers.map((server) => (server.address() as net.AddressInfo).port),
    connections: (port) => (port === undefined ? [...seen.values()].reduce((a, b) => a + b, 0) : (seen.get(port) ?? 0)),
    close: async () => {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

export interface RawReply {
  /** Everything the server sent. */
  raw: Buffer;
  /** Status of the first response, if one came. */
  status?: number;
  /** Body of the first response parsed as JSON, if it was. */
  json?: any;
  /** The server closed (or reset) the connection before `waitMs` ran out. */
  closed: boolean;
  ms: number;
}

/**
 * Writes `parts` on a fresh connection as given (no HTTP library in between), optionally
 * half-closes, and collects what comes back until the server closes or `waitMs` passes.
 */
export function rawExchange(
  url: string,
  parts: (Buffer | string)[],
  options: { halfClose?: boolean; waitMs?: number; untilFirstResponse?: boolean } = {},
): Promise<RawReply> {
  const { port, hostname } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        ...parseFirstResponse(Buffer.concat(chunks)),
        raw: Buffer.concat(chunks),
        closed,
        ms: Date.now() - started,
      });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 10_000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (options.untilFirstResponse && parseFirstResponse(Buffer.concat(chunks)).complete) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      for (const part of parts) socket.write(part);
      if (options.halfClose) socket.end();
    });
  });
}

function parseFirstResponse(raw: Buffer): { status?: number; json?: any; complete: boolean } {
  const text = raw.toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  const headEnd = text.indexOf('\r\n\r\n');
  if (!status || headEnd < 0) return { status: status ? Number(status) : undefined, complete: false };
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? 0);
  const body = raw.subarray(headEnd + 4, headEnd + 4 + length);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: Number(status), json, complete: body.length >= length };
}

/** One PNG chunk: length, type, data, CRC over type and data (PNG §5.3). */
export function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** `png` with `chunks` inserted right after its IHDR (which always ends at byte 33). */
export function withChunksAfterHeader(png: Buffer, chunks: Buffer[]): Buffer {
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

/** A multipart/form-data body from parts given as (headers, content); `end: false` leaves out the final delimiter. */
export function multipartBody(
  boundary: string,
  parts: { headers: string[]; content: Buffer | string }[],
  options: { end?: boolean } = {},
): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    pieces.push(
      Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`),
      Buffer.from(part.content),
      Buffer.from('\r\n'),
    );
  }
  if (options.end !== false) pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}

export const filePart = (name: string, content: Buffer | string, field = 'file') => ({
  headers: [
    `Content-Disposition: form-data; name="${field}"; filename="${name}"`,
    'Content-Type: application/octet-stream',
  ],
  content,
});
