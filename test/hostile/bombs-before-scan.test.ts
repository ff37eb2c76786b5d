import { createConnection, createServer, type Server } from 'node:net';
import sharp from 'sharp';
import { startTestApp, type TestApp } from '../support/app';
import { type Clamd, startClamd } from '../support/clamd';
import { expectUnharmed } from '../support/hostile';
import { upload } from '../support/http';
import { pngSized } from '../support/bombs';
import { makeZip } from '../support/zip';

/** A pass-through in front of a real clamd that counts the scans (INSTREAM commands) it carries. */
async function countingProxy(clamd: Clamd): Promise<{ url: string; scans: () => number; close: () => Promise<void> }> {
  let scans = 0;
  const target = new URL(clamd.url);
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.once('data', (first: Buffer) => {
      if (first.toString('latin1').startsWith('zINSTREAM')) scans++;
      upstream.write(first);
      client.pipe(upstream).pipe(client);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `tcp://127.0.0.1:${port}`,
    scans: () => scans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/*
 * A bomb must not reach the antivirus: clamd would spend its scan-time limit expanding it,
 * and a client told "try again later" would make it do so again and again. What a file
 * declares in its header is judged first; a scan cut by a per-file limit is the file's fault.
 */
describe('bombs are refused before the antivirus scan', () => {
  let clamd: Clamd;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let t: TestApp;
  beforeAll(async () => {
    clamd = await startClamd();
    proxy = await countingProxy(clamd);
    t = await startTestApp({ env: { CLAMAV_URL: proxy.url } });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await clamd?.stop();
  });

  it.each([
    ['a PNG declaring 400 MP', 'huge.png', () => pngSized(20_000, 20_000), 413, 'FILE_TOO_LARGE'],
    ['a PNG declaring 225 MP', 'big.png', () => pngSized(15_000, 15_000), 413, 'FILE_TOO_LARGE'],
    [
      'a ZIP of 10,001 entries',
      'many.zip',
      async () => makeZip(Array.from({ length: 10_001 }, (_, i) => ({ name: `e${i}.txt` }))),
      422,
      'CORRUPT_FILE',
    ],
    [
      'a ZIP declaring an entry that expands 1000×',
      'ratio.zip',
      async () => makeZip([{ name: 'zeros.bin', data: Buffer.alloc(64 * 1024 * 1024), deflate: true }]),
      422,
      'CORRUPT_FILE',
    ],
  ])('%s is refused without a scan', async (_label, name, make, status, code) => {
    const owner = `bomb-${name}`;
    const token = await t.token(owner);
    const before = proxy.scans();
    const reply = await upload(t.url, token, { name, bytes: await make() });
    expect([reply.status, reply.json?.code]).toEqual([status, code]);
    expect(proxy.scans()).toBe(before);
    await expectUnharmed(t, { owner, token, refused: true });
  });

  it('scans an ordinary image (the count above would see a scan)', async () => {
    const token = await t.token('ordinary');
    const before = proxy.scans();
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    expect((await upload(t.url, token, { name: 'ok.png', bytes: png })).status).toBe(201);
    expect(proxy.scans()).toBe(before + 1);
  });
});

describe('a scan cut by its time limit', () => {
  let clamd: Clamd;
  let t: TestApp;
  beforeAll(async () => {
    clamd = await startClamd({ MaxScanTime: 1 }); // milliseconds: any real file takes longer
    t = await startTestApp({ env: { CLAMAV_URL: clamd.url } });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    await clamd?.stop();
  });

  it('is the file\'s fault: 422 MALWARE_DETECTED, never 503 "try again later"', async () => {
    const token = await t.token('slow-scan');
    const zip = makeZip(
      Array.from({ length: 2000 }, (_, i) => ({
        name: `d${i}.txt`,
        data: Buffer.from(`entry ${i} `.repeat(200)),
        deflate: true,
      })),
    );
    const reply = await upload(t.url, token, { name: 'slow.zip', bytes: zip });
    expect([reply.status, reply.json?.code]).toEqual([422, 'MALWARE_DETECTED']);
    expect(reply.headers.get('retry-after')).toBeNull();
  });
});
