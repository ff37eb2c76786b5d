/**
 * Thin adapter for clamd (ClamAV daemon) over TCP or a unix socket: INSTREAM, PING, VERSION.
 * Protocol (clamd(8)): "z" commands end with NUL and so do the replies; INSTREAM data goes
 * as chunks, each behind a 4-byte big-endian length, ended by a zero-length chunk.
 * It only reports what clamd said; what to do with an infected or incomplete file is decided
 * elsewhere. Anything short of a reply (refused, reset, timeout, abort) throws: never "clean".
 */
import { connect, type NetConnectOpts, type Socket } from 'node:net';

export type ScanResult =
  { verdict: 'clean' } | { verdict: 'infected'; signature: string } | { verdict: 'incomplete'; reason: string };

export interface ScanOptions {
  signal?: AbortSignal;
  /** Longest wait without progress (connect, each drain, the verdict): keep it above clamd's MaxScanTime. */
  timeoutMs?: number;
}

export class ClamdUnavailableError extends Error {
  override readonly name = 'ClamdUnavailableError';
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Each source chunk is cut to this, so a length always fits the 4-byte prefix. */
const MAX_CHUNK = 1 << 20;
/** AlertExceedsMax / AlertEncrypted signatures: the file was not (fully) scanned. */
const NOT_FULLY_SCANNED = /^Heuristics\.(Limits\.Exceeded|Encrypted)\./;

/** Turns one INSTREAM reply (NUL removed) into a verdict; a reply it does not know throws. */
export function parseScanReply(reply: string): ScanResult {
  const text = reply.trim();
  if (text === 'stream: OK') return { verdict: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) {
    const signature = found[1];
    return NOT_FULLY_SCANNED.test(signature)
      ? { verdict: 'incomplete', reason: signature }
      : { verdict: 'infected', signature };
  }
  // "INSTREAM size limit exceeded. ERROR", "stream: Time limit reached ERROR", ...: not scanned through.
  if (text.endsWith(' ERROR')) return { verdict: 'incomplete', reason: text.slice(0, -' ERROR'.length) };
  throw new ClamdUnavailableError(`unexpected clamd reply: ${JSON.stringify(text.slice(0, 200))}`);
}

/** `tcp://host:port`, `unix:///path` or `/path` → socket options. */
export function parseClamdUrl(url: string): NetConnectOpts {
  if (url.startsWith('/')) return { path: url };
  const parsed = new URL(url);
  if (parsed.protocol === 'unix:' && parsed.pathname.startsWith('/'))
    return { path: decodeURIComponent(parsed.pathname) };
  if (parsed.protocol === 'tcp:' && parsed.hostname && parsed.port) {
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port) };
  }
  throw new Error(`invalid clamd URL ${url}: expected tcp://host:port, unix:///path or /path`);
}

export class ClamdScanner {
  private readonly target: NetConnectOpts;

  constructor(private readonly url: string) {
    this.target = parseClamdUrl(url);
  }

  /** Streams `source` to clamd (zINSTREAM) without buffering it; the source is consumed or ended. */
  async scan(
    source: AsyncIterable<Buffer | string> | NodeJS.ReadableStream,
    options: ScanOptions = {},
  ): Promise<ScanResult> {
    return parseScanReply(await this.exchange('zINSTREAM\0', source as AsyncIterable<Buffer | string>, options));
  }

  /** zPING → PONG, for the readiness check: false rather than a throw. */
  async ping(timeoutMs = 1_000): Promise<boolean> {
    return this.exchange('zPING\0', undefined, { timeoutMs }).then(
      (reply) => reply === 'PONG',
      () => false,
    );
  }

  /** zVERSION, e.g. "ClamAV 1.4.6/27000/Mon Jan  1 09:00:00 2026" (no database part without a .cvd). */
  version(timeoutMs = 1_000): Promise<string> {
    return this.exchange('zVERSION\0', undefined, { timeoutMs });
  }

  /** Sends one command (and an INSTREAM body) and resolves with the NUL-terminated reply. */
  private exchange(
    command: string,
    body: AsyncIterable<Buffer | string> | undefined,
    options: ScanOptions,
  ): Promise<string> {
    const { signal, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
    return new Promise((resolve, reject) => {
      const socket = connect(this.target);
      let reply = '';
      const settle = (error: unknown, value?: string) => {
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (error === undefined) resolve(value as string);
        else reject(error);
      };
      const unavailable = (why: string, cause?: unknown) =>
        settle(new ClamdUnavailableError(`clamd at ${this.url}: ${why}`, { cause }));
      const onAbort = () => unavailable('aborted', signal?.reason);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.setTimeout(timeoutMs, () => unavailable(`no progress for ${timeoutMs} ms`));
      socket.setEncoding('latin1');
      socket.on('data', (data: string) => {
        reply += data;
        // An early reply (e.g. the size limit) ends the exchange while the body is still going.
        if (reply.includes('\0')) settle(undefined, reply.slice(0, reply.indexOf('\0')));
      });
      socket.on('error', (error) => unavailable(error.message, error));
      socket.on('close', () => unavailable('connection closed without a reply'));
      socket.once('connect', () => {
        socket.write(command);
        if (body) sendChunks(socket, body).catch((error: unknown) => settle(error));
      });
    });
  }
}

/**
 * INSTREAM body: length-prefixed chunks with backpressure, then the zero-length terminator.
 * Past StreamMaxLength clamd replies and closes at once; a write racing that close fails with
 * EPIPE and Node drops the unread reply, so a few over-long scans in a thousand end in
 * ClamdUnavailableError instead of 'incomplete' (fail-closed either way). Keep uploads below it.
 */
async function sendChunks(socket: Socket, source: AsyncIterable<Buffer | string>): Promise<void> {
  for await (const piece of source) {
    const buffer = typeof piece === 'string' ? Buffer.from(piece) : piece;
    // An empty chunk would be read as the terminator, and whatever follows as a new command.
    for (let at = 0; at < buffer.length; at += MAX_CHUNK) {
      if (socket.destroyed) return;
      const chunk = buffer.subarray(at, at + MAX_CHUNK);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(chunk.length);
      // One writev for both: clamd may close as soon as it reads a length past its limit.
      socket.cork();
      socket.write(length);
      const roomLeft = socket.write(chunk);
      socket.uncork();
      if (!roomLeft) await drained(socket);
    }
  }
  if (!socket.destroyed) socket.write(Buffer.alloc(4));
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done).off('close', done);
      resolve();
    };
    socket.on('drain', done).on('close', done);
  });
}
