import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { everyTypeAtMost, startTestApp, type TestApp } from '../support/app';
import { clickAndWait, launchChromium, pageUrl, type PageServer, servePages, useToken } from '../support/browser';
import { query } from '../support/database';
import { stalledUpload } from '../support/http';
import { picture } from '../support/pictures';
import { seededRandom, textFile } from '../support/random';
import { waitFor } from '../support/wait';

/*
 * The API from a real browser (chromium), through a small upload page served from another
 * origin (test/browser/page.html): everything the page reads crosses CORS. Without the CORS
 * headers — on the answers too that are given before the body was read — the page's fetch
 * would fail with a network error instead of a status and a JSON body.
 */

jest.setTimeout(240_000);
const MB = 1024 * 1024;
const LIMIT = 8 * MB;
const PAGE = join(__dirname, 'page.html');
/** tus-js-client's browser bundle (global `tus`), as a page would load it. */
const TUS_BUNDLE = require.resolve('tus-js-client/dist/tus.min.js');

/** A JPEG of random noise (seeded): 2000×1500, quality 95, no chroma subsampling — about 5.8 MB that does not compress. */
async function noiseJpeg(seed: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const words = new Uint32Array((2000 * 1500 * 3) / 4).map(() => Math.floor(random() * 2 ** 32));
  return sharp(Buffer.from(words.buffer), { raw: { width: 2000, height: 1500, channels: 3 } })
    .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
    .toBuffer();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('a real browser, on another origin', () => {
  let t: TestApp;
  let pages: PageServer;
  let stranger: PageServer;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let jpeg: Buffer;
  let dir: string;

  beforeAll(async () => {
    pages = await servePages({ '/page.html': PAGE, '/tus.min.js': TUS_BUNDLE });
    stranger = await servePages({ '/page.html': PAGE, '/tus.min.js': TUS_BUNDLE });
    t = await startTestApp({
      env: {
        CORS_ALLOWED_ORIGINS: pages.origin,
        UPLOAD_CONCURRENCY_PER_USER: '1',
        ...everyTypeAtMost(LIMIT),
      },
    });
    browser = await launchChromium();
    jpeg = await noiseJpeg(15);
    dir = mkdtempSync(join(tmpdir(), 'media-test-browser-'));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await pages?.close();
    await stranger?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    page = await browser.newPage();
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
  });
  afterEach(async () => {
    await page.close();
    expect(pageErrors).toEqual([]);
    await waitFor(() => t.tempFiles().length === 0);
  });

  async function open(user: string, server = pages): Promise<void> {
    await page.goto(pageUrl(server, '/page.html', t.url, await t.token(user)));
  }

  /** Picks a file in the page's file input, as a user does (from disk: the browser reads it, the driver carries no bytes). */
  async function choose(name: string, bytes: Buffer): Promise<void> {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    await page.setInputFiles('#file', path);
  }

  it('uploads a 5 MB JPEG from the file input, shows its preview and reads it back whole', async () => {
    expect(jpeg.length).toBeGreaterThanOrEqual(4 * MB);
    expect(jpeg.length).toBeLessThan(LIMIT);
    await open('alice');
    await choose('noise.jpg', jpeg);
    const uploaded = await clickAndWait(page, '#upload');
    expect(uploaded).toMatchObject({
      status: 201,
      body: { type: 'image', originalMimeType: 'image/jpeg', originalName: 'noise.jpg', originalSize: jpeg.length },
    });
    expect(uploaded.headers['X-Request-Id']).toEqual(expect.any(String)); // exposed, else hidden from the page
    expect(await page.textContent('#status')).toMatch(/^201: noise\.jpg/);

    // The preview, fetched with the token into a blob, decoded in the img.
    expect(uploaded.preview).toMatchObject({ status: 200 });
    const shown = await page.$eval('#preview', (img) => ({
      width: (img as any).naturalWidth,
      height: (img as any).naturalHeight,
      complete: (img as any).complete,
    }));
    expect(shown).toEqual({ width: 256, height: 192, complete: true });

    // The stored file (the version kept after processing) is what the Media object says.
    const { id, size, sha256: stored } = uploaded.body;
    const downloaded = await page.evaluate((mediaId) => (globalThis as any).mediaPage.download(mediaId), id);
    expect(downloaded).toMatchObject({ status: 200, size, sha256: stored });
    expect(downloaded.headers).toMatchObject({ 'Content-Length': String(size), ETag: expect.any(String) });
    const viaNode = Buffer.from(
      await (
        await fetch(`${t.url}/api/v1/media/${id}`, { headers: { Authorization: `Bearer ${await t.token('alice')}` } })
      ).arrayBuffer(),
    );
    expect(sha256(viaNode)).toBe(stored);
  });

  it('uploads the same 5 MB JPEG resumably (tus, 2 MiB PATCHes through CORS), shows its preview and reads it back', async () => {
    await open('resumer');
    await choose('noise.jpg', jpeg);
    const uploaded = await clickAndWait(page, '#resumable');
    expect(uploaded).toMatchObject({
      status: 200,
      body: { type: 'image', originalMimeType: 'image/jpeg', originalName: 'noise.jpg', originalSize: jpeg.length },
    });
    expect(uploaded.body.id).toBe(uploaded.mediaId);
    expect(uploaded.preview).toMatchObject({ status: 200, naturalWidth: 256, naturalHeight: 192 });
    const downloaded = await page.evaluate(
      (mediaId) => (globalThis as any).mediaPage.download(mediaId),
      uploaded.mediaId,
    );
    expect(downloaded).toMatchObject({ status: 200, size: uploaded.body.size, sha256: uploaded.body.sha256 });
  });

  it('reads an early 413 (declared size over every limit) as status and JSON, then goes on', async () => {
    await open('carol');
    await choose('too-big.jpg', Buffer.concat([jpeg, jpeg]));
    const refused = await clickAndWait(page, '#upload');
    expect(refused).toMatchObject({
      status: 413,
      body: { statusCode: 413, code: 'FILE_TOO_LARGE', requestId: refused.headers['X-Request-Id'] },
    });
    expect(await page.getAttribute('#status', 'data-state')).toBe('error');
    expect(await page.textContent('#status')).toMatch(/^413 FILE_TOO_LARGE: /);

    expect(await page.evaluate(() => (globalThis as any).mediaPage.storage())).toMatchObject({
      status: 200,
      body: { fileCount: 0 },
    });
    await choose('small.png', await picture(16));
    expect(await clickAndWait(page, '#upload')).toMatchObject({
      status: 201,
      body: { type: 'image' },
      preview: { status: 200 },
    });
  });

  it('reads a 429 with its Retry-After while another upload of the user is in flight, then goes on', async () => {
    const busy = await t.token('busy');
    const holding = stalledUpload(t.url, busy, { name: 'held.txt', bytes: textFile(17, 256 * 1024) });
    await waitFor(
      async () =>
        (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'busy'")).length === 1,
    );
    await open('alice');
    await useToken(page, busy);
    await choose('noise.jpg', jpeg);
    const refused = await clickAndWait(page, '#upload');
    expect(refused).toMatchObject({
      status: 429,
      body: { code: 'TOO_MANY_CONCURRENT_UPLOADS' },
      headers: { 'Retry-After': '1' },
    });

    expect((await holding.finish()).status).toBe(201);
    expect(await clickAndWait(page, '#upload')).toMatchObject({
      status: 201,
      body: { originalSize: jpeg.length, ownerId: 'busy' },
    });
  });

  it('gives a page on an origin not listed nothing to read: its requests fail in the browser', async () => {
    await open('mallory', stranger);
    const storage = await page.evaluate(() => (globalThis as any).mediaPage.storage());
    expect(storage).toEqual({ status: 0, error: expect.stringMatching(/TypeError: Failed to fetch/) });
    await choose('small.png', await picture(18));
    expect(await clickAndWait(page, '#upload')).toEqual({ status: 0, error: expect.stringMatching(/Failed to fetch/) });
  });
});
