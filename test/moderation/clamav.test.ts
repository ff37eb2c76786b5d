/**
 * The clamd adapter against a real clamd (test/support/clamd.ts) with the EICAR-only
 * database in test/fixtures/clamav. The EICAR file is built here from two halves so that
 * nothing stored in the repository is itself an EICAR file.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/common/free-port';
import {
  ClamdScanner,
  ClamdUnavailableError,
  parseClamdUrl,
  parseScanReply,
  type ScanResult,
} from '../../src/moderation/clamav';
import { type Clamd, CLAMD_LIMITS, startClamd } from '../support/clamd';
import { waitFor } from '../support/wait';
import { makeZip } from '../support/zip';
import { EICAR, pdfWith } from '../support/eicar';

const BODY_SIGNATURE = 'Test.EICAR.Body.UNOFFICIAL'; // clamd appends .UNOFFICIAL to unsigned databases
const CHUNK = 64 * 1024;

async function* chunks(...buffers: Buffer[]): AsyncGenerator<Buffer> {
  yield* buffers;
}

const openSockets = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;

describe('ClamdScanner against a real clamd', () => {
  let clamd: Clamd;
  let scanner: ClamdScanner;

  beforeAll(async () => {
    clamd = await startClamd();
    scanner = new ClamdScanner(clamd.url);
  });
  afterAll(() => clamd?.stop());

  it('answers PING and VERSION', async () => {
    expect(await scanner.ping()).toBe(true);
    expect(await scanner.version()).toMatch(/^ClamAV \d+\.\d+/);
  });

  it('finds a clean file clean, and the EICAR file infected', async () => {
    expect(await scanner.scan(chunks(Buffer.from('hello, world\n')))).toEqual({ verdict: 'clean' });
    expect(await scanner.scan(chunks(EICAR))).toEqual({ verdict: 'infected', signature: BODY_SIGNATURE });
  });

  it('skips empty chunks, which clamd would take for the end of the stream', async () => {
    expect(await scanner.scan(chunks(Buffer.alloc(0), EICAR))).toEqual({
      verdict: 'infected',
      signature: BODY_SIGNATURE,
    });
  });

  it('finds EICAR deflated inside a ZIP', async () => {
    const zip = makeZip([{ name: 'eicar.com', data: EICAR, deflate: true }]);
    expect(zip.includes(EICAR)).toBe(false);
    expect(await scanner.scan(chunks(zip))).toEqual({ verdict: 'infected', signature: BODY_SIGNATURE });
  });

  it.each([false, true])('finds EICAR in a PDF content stream (FlateDecode: %s)', async (flate) => {
    const pdf = pdfWith(
      Buffer.concat([Buffer.from('BT /F1 12 Tf 20 100 Td (hello) Tj ET\n% '), EICAR, Buffer.from('\n')]),
      flate,
    );
    // Deflated, the bytes are not in the file: only clamd's PDF parser (ScanPDF) can find them.
    expect(pdf.includes(EICAR)).toBe(!flate);
    expect(await scanner.scan(chunks(pdf))).toEqual({ verdict: 'infected', signature: BODY_SIGNATURE });
  });

  it('reports an encrypted ZIP entry as incomplete (AlertEncrypted), a virus beside it as infected', async () => {
    const secret = {
      name: 'secret.txt',
      data: Buffer.from('not really encrypted, but flagged so'),
      deflate: true,
      encrypted: true,
    };
    expect(await scanner.scan(chunks(makeZip([secret])))).toEqual({
      verdict: 'incomplete',
      reason: 'Heuristics.Encrypted.Zip',
    });
    const both = makeZip([secret, { name: 'eicar.com', data: EICAR, deflate: true }]);
    expect(await scanner.scan(chunks(both))).toEqual({ verdict: 'infected', signature: BODY_SIGNATURE });
  });

  it('reports each exceeded limit as incomplete (AlertExceedsMax)', async () => {
    let nested = makeZip([{ name: 'eicar.com', data: EICAR, deflate: true }]);
    for (let depth = 0; depth <= CLAMD_LIMITS.MaxRecursion; depth++)
      nested = makeZip([{ name: `${depth}.zip`, data: nested }]);
    const manyBig = Array.from({ length: 6 }, (_, i) => ({
      name: `${i}.bin`,
      data: Buffer.alloc(Math.ceil(CLAMD_LIMITS.MaxScanSize / 5), i),
      deflate: true,
    }));
    const incomplete = (reason: string): ScanResult => ({ verdict: 'incomplete', reason });
    expect(await scanner.scan(chunks(Buffer.alloc(CLAMD_LIMITS.MaxFileSize + 1, 'a')))).toEqual(
      incomplete('Heuristics.Limits.Exceeded.MaxFileSize'),
    );
    expect(await scanner.scan(chunks(nested))).toEqual(incomplete('Heuristics.Limits.Exceeded.MaxRecursion'));
    expect(await scanner.scan(chunks(makeZip(manyBig)))).toEqual(incomplete('Heuristics.Limits.Exceeded.MaxScanSize'));
  });

  it('reports a scan cut by MaxScanTime as incomplete', async () => {
    const hasty = await startClamd({ MaxScanTime: 1 }); // milliseconds: 3 MiB takes longer
    try {
      const result = await new ClamdScanner(hasty.url).scan(chunks(Buffer.alloc(3 << 20, 'a')));
      expect(result).toEqual({ verdict: 'incomplete', reason: 'Heuristics.Limits.Exceeded.MaxScanTime' });
    } finally {
      await hasty.stop();
    }
  });

  it('passes a ZIP entry larger than MaxFileSize as clean, scanning only its start (clamd 1.4 limitation)', async () => {
    // unzip.c trims an entry to MaxFileSize without any alert, AlertExceedsMax or not: a
    // clean verdict does not cover big entries, so their size must be capped before scanning.
    const tail = makeZip([
      { name: 'big.bin', data: Buffer.concat([Buffer.alloc(CLAMD_LIMITS.MaxFileSize), EICAR]), deflate: true },
    ]);
    const head = makeZip([
      { name: 'big.bin', data: Buffer.concat([EICAR, Buffer.alloc(CLAMD_LIMITS.MaxFileSize)]), deflate: true },
    ]);
    expect(await scanner.scan(chunks(tail))).toEqual({ verdict: 'clean' });
    expect(await scanner.scan(chunks(head))).toEqual({ verdict: 'infected', signature: BODY_SIGNATURE });
  });

  it('answers incomplete as soon as a stream passes StreamMaxLength', async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let finished = false;
    async function* overLong(): AsyncGenerator<Buffer> {
      try {
        for (let sent = 0; sent <= CLAMD_LIMITS.StreamMaxLength; sent += CHUNK) yield Buffer.alloc(CHUNK, 1);
        // Pause past the limit: clamd's reply must come without the rest. (A write racing
        // clamd's close can lose that reply; see clamav.ts.)
        await released;
        yield Buffer.alloc(CHUNK, 1);
      } finally {
        finished = true;
      }
    }
    const result = await scanner.scan(overLong(), { timeoutMs: 10_000 });
    release();
    expect(result).toEqual({ verdict: 'incomplete', reason: 'INSTREAM size limit exceeded.' });
    await waitFor(() => finished, 2_000);
  });

  it('works over the unix socket, as a path or a unix:// URL', async () => {
    for (const url of [clamd.socketPath, `unix://${clamd.socketPath}`]) {
      const overSocket = new ClamdScanner(url);
      expect(await overSocket.ping()).toBe(true);
      expect(await overSocket.scan(chunks(EICAR))).toEqual({ verdict: 'infected', signature: BODY_SIGNATURE });
    }
  });

  it('rejects promptly on abort mid-scan, ends the source and leaves no socket open', async () => {
    const before = openSockets();
    let finished = false;
    async function* slow(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          yield Buffer.alloc(CHUNK, 2);
          await sleep(20);
        }
      } finally {
        finished = true;
      }
    }
    const controller = new AbortController();
    const reason = new Error('upload cancelled');
    const scanning = scanner.scan(slow(), { signal: controller.signal });
    await sleep(150);
    controller.abort(reason);
    const error = await scanning.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClamdUnavailableError);
    expect((error as Error).cause).toBe(reason);
    await waitFor(() => finished && openSockets() === before, 15_000);
    expect(await scanner.scan(chunks(EICAR), { signal: AbortSignal.abort() }).catch((e: unknown) => e)).toBeInstanceOf(
      ClamdUnavailableError,
    );
  });
});

describe('ClamdScanner when clamd is not there', () => {
  const unavailable = expect.any(ClamdUnavailableError);

  it('rejects, never clean, when clamd dies mid-scan and once it is gone', async () => {
    const doomed = await startClamd();
    const scanner = new ClamdScanner(doomed.url);
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        yield Buffer.alloc(CHUNK, 3);
        await sleep(10);
      }
    }
    const scanning = scanner.scan(endless());
    await sleep(100);
    process.kill(doomed.pid, 'SIGKILL');
    await expect(scanning).rejects.toEqual(unavailable);
    await doomed.stop();
    await expect(scanner.scan(chunks(Buffer.from('hello')))).rejects.toEqual(unavailable);
    await expect(new ClamdScanner(doomed.socketPath).scan(chunks(Buffer.from('hello')))).rejects.toEqual(unavailable);
    expect(await scanner.ping()).toBe(false);
  });

  it('rejects on a port nobody listens on', async () => {
    const scanner = new ClamdScanner(`tcp://127.0.0.1:${await freePort()}`);
    const error = await scanner.scan(chunks(EICAR)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClamdUnavailableError);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  describe('a server that accepts and never reads nor answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      server = createServer({ pauseOnConnect: true }, (socket) => {
        sockets.add(socket.on('error', () => {}).on('close', () => sockets.delete(socket)));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it('rejects after timeoutMs, stuck on backpressure, and closes the connection', async () => {
      const scanner = new ClamdScanner(`tcp://127.0.0.1:${(server.address() as { port: number }).port}`);
      let sent = 0;
      async function* big(): AsyncGenerator<Buffer> {
        for (; sent < 64 << 20; sent += CHUNK) yield Buffer.alloc(CHUNK, 4);
      }
      const started = Date.now();
      await expect(scanner.scan(big(), { timeoutMs: 300 })).rejects.toEqual(unavailable);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(sent).toBeLessThan(64 << 20);
      expect(await scanner.ping(200)).toBe(false);
      // Reading now, the server sees our end of each connection.
      for (const socket of sockets) socket.resume();
      await waitFor(() => sockets.size === 0, 2_000);
    });
  });
});

describe('parseScanReply and parseClamdUrl', () => {
  it.each([
    ['stream: OK', { verdict: 'clean' }],
    ['stream: Win.Test.EICAR_HDB-1 FOUND', { verdict: 'infected', signature: 'Win.Test.EICAR_HDB-1' }],
    [
      'stream: Heuristics.Structured.CreditCardNumber FOUND',
      { verdict: 'infected', signature: 'Heuristics.Structured.CreditCardNumber' },
    ],
    [
      'stream: Heuristics.Limits.Exceeded.MaxScanTime FOUND',
      { verdict: 'incomplete', reason: 'Heuristics.Limits.Exceeded.MaxScanTime' },
    ],
    ['stream: Heuristics.Encrypted.PDF FOUND', { verdict: 'incomplete', reason: 'Heuristics.Encrypted.PDF' }],
    ['INSTREAM size limit exceeded. ERROR', { verdict: 'incomplete', reason: 'INSTREAM size limit exceeded.' }],
    ['stream: Time limit reached ERROR', { verdict: 'incomplete', reason: 'stream: Time limit reached' }],
  ])('%s', (reply, result) => {
    expect(parseScanReply(reply)).toEqual(result);
  });

  it('throws on a reply it does not know', () => {
    expect(() => parseScanReply('PONG')).toThrow(ClamdUnavailableError);
  });

  it('reads tcp://, unix:// and plain paths', () => {
    expect(parseClamdUrl('tcp://127.0.0.1:3310')).toEqual({ host: '127.0.0.1', port: 3310 });
    expect(parseClamdUrl('tcp://[::1]:3310')).toEqual({ host: '::1', port: 3310 });
    expect(parseClamdUrl('unix:///run/clamav/clamd.ctl')).toEqual({ path: '/run/clamav/clamd.ctl' });
    expect(parseClamdUrl('/run/clamav/clamd.ctl')).toEqual({ path: '/run/clamav/clamd.ctl' });
    expect(() => parseClamdUrl('clamd:3310')).toThrow(/invalid clamd URL/);
  });
});
