import sharp from 'sharp';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';
import { dHash, exifOf, hamming } from '../support/image';

/** Looks the same: at most this many of 64 dHash bits differ. */
const SIMILAR = 8;

describe('image processing', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('painter');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  const download = async (id: string) => (await request(`${t.url}/api/v1/media/${id}`, { token })).body;
  const preview = (id: string, size?: number) =>
    request(`${t.url}/api/v1/media/${id}/preview${size ? `?size=${size}` : ''}`, { token });

  /** Every preview decodes as WebP at its listed size, fits its box, and carries no EXIF. */
  async function expectPreviews(
    media: { id: string; previews: { size: number; width: number; height: number }[] },
    width: number,
    height: number,
  ) {
    expect(media.previews.map((p) => p.size)).toEqual([64, 256, 512]);
    for (const listed of media.previews) {
      const scale = Math.min(1, listed.size / Math.max(width, height));
      expect(listed).toMatchObject({
        width: Math.round(width * scale),
        height: Math.round(height * scale),
        mimeType: 'image/webp',
      });
      const served = await preview(media.id, listed.size);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe('image/webp');
      const decoded = await sharp(served.body).metadata();
      expect([decoded.format, decoded.width, decoded.height]).toEqual(['webp', listed.width, listed.height]);
      expect(await exifOf(served.body)).toBeUndefined();
    }
  }

  it('JPEG with GPS: re-encoded without EXIF, same look, camera and time kept in metadata, previews', async () => {
    const original = fixture('jpeg-exif-gps-nikon-d2h.jpg');
    expect((await exifOf(original))?.GPSInfo).toBeDefined();
    const { status, json } = await uploadFixture(t.url, token, 'jpeg-exif-gps-nikon-d2h.jpg');
    expect(status).toBe(201);
    expect(json).toMatchObject({
      type: 'image',
      mimeType: 'image/jpeg',
      originalMimeType: 'image/jpeg',
      originalSize: original.length,
    });
    expect(json.metadata).toMatchObject({
      width: 500,
      height: 375,
      format: 'jpeg',
      hasAlpha: false,
      animated: false,
      frames: 1,
      orientationApplied: false,
    });
    expect(json.metadata.camera).toMatch(/NIKON D2H/);
    expect(json.metadata.takenAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(Buffer.from(json.metadata.thumbhash, 'base64').length).toBeGreaterThan(5);
    expect(JSON.stringify(json.metadata)).not.toMatch(/GPS|Latitude|Longitude/i);
    const stored = await download(json.id);
    expect(stored.length).toBe(json.size);
    expect(await exifOf(stored)).toBeUndefined();
    expect(stored.includes(Buffer.from('GPS'))).toBe(false);
    expect(hamming(await dHash(stored), await dHash(original))).toBeLessThanOrEqual(SIMILAR);
    await expectPreviews(json, 500, 375);
  });

  it('applies EXIF orientation before anything else', async () => {
    const original = fixture('jpeg-exif-orientation6-panasonic-gf1.jpg');
    const { json } = await uploadFixture(t.url, token, 'jpeg-exif-orientation6-panasonic-gf1.jpg');
    expect(json.metadata).toMatchObject({
      width: 428,
      height: 640,
      orientationApplied: true,
      camera: expect.stringMatching(/DMC-GF1/),
    });
    const stored = await sharp(await download(json.id)).metadata();
    expect([stored.width, stored.height, stored.orientation]).toEqual([428, 640, undefined]);
    expect(hamming(await dHash(await download(json.id)), await dHash(sharp(original).rotate()))).toBeLessThanOrEqual(
      SIMILAR,
    );
    await expectPreviews(json, 428, 640);
  });

  it('compresses a large phone-sized JPEG by at least 30 %', async () => {
    const width = 3000;
    const height = 2000;
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + ((i / 3000) | 0)) & 0xff;
    const photo = await sharp(pixels, { raw: { width, height, channels: 3 } })
      .blur(2)
      .jpeg({ quality: 97 })
      .toBuffer();
    const { json } = await upload(t.url, token, { name: 'big.jpg', bytes: photo });
    expect(json.size).toBeLessThan(photo.length * 0.7);
    expect(json.metadata).toMatchObject({ width, height });
    expect(hamming(await dHash(await download(json.id)), await dHash(photo))).toBeLessThanOrEqual(SIMILAR);
  });

  it('keeps alpha: PNG stays PNG, WebP stays WebP', async () => {
    for (const [name, mime] of [
      ['png-rgba-alpha-yellow-rose.png', 'image/png'],
      ['webp-lossy-alpha.webp', 'image/webp'],
    ]) {
      const { json } = await uploadFixture(t.url, token, name);
      expect(json).toMatchObject({ mimeType: mime, metadata: { width: 400, height: 301, hasAlpha: true } });
      expect(json.size).toBeLessThanOrEqual(json.originalSize);
      const stored = await sharp(await download(json.id)).metadata();
      expect([stored.hasAlpha, stored.width, stored.height]).toEqual([true, 400, 301]);
      expect(hamming(await dHash(await download(json.id)), await dHash(fixture(name)))).toBeLessThanOrEqual(SIMILAR);
      await expectPreviews(json, 400, 301);
    }
  });

  it('keeps an animated GIF animated', async () => {
    const { json } = await uploadFixture(t.url, token, 'gif-animated-throbber.gif');
    expect(json.metadata).toMatchObject({ width: 32, height: 32, animated: true, frames: 8 });
    expect(['image/gif', 'image/webp']).toContain(json.mimeType);
    const stored = await sharp(await download(json.id), { animated: true }).metadata();
    expect([stored.pages, stored.width, stored.pageHeight ?? stored.height]).toEqual([8, 32, 32]);
    await expectPreviews(json, 32, 32);
  });

  it('turns HEIC into JPEG without its GPS', async () => {
    const { status, json } = await uploadFixture(t.url, token, 'heic-exif-gps-from-jpeg.heic');
    expect(status).toBe(201);
    expect(json).toMatchObject({
      mimeType: 'image/jpeg',
      originalMimeType: 'image/heic',
      metadata: { width: 1278, height: 720, format: 'jpeg' },
    });
    const stored = await download(json.id);
    expect((await sharp(stored).metadata()).format).toBe('jpeg');
    expect(await exifOf(stored)).toBeUndefined();
    await expectPreviews(json, 1278, 720);
  });

  it('AVIF: decoded, previews, stored as the smaller of itself and a JPEG', async () => {
    const avif = await sharp(fixture('jpeg-exif-orientation6-panasonic-gf1.jpg'))
      .rotate()
      .avif({ quality: 50 })
      .toBuffer();
    const { status, json } = await upload(t.url, token, { name: 'photo.avif', bytes: avif });
    expect(status).toBe(201);
    expect(json).toMatchObject({ originalMimeType: 'image/avif', metadata: { width: 428, height: 640 } });
    expect(['image/avif', 'image/jpeg']).toContain(json.mimeType);
    expect(json.size).toBeLessThanOrEqual(avif.length);
    expect(
      hamming(
        await dHash(await download(json.id)),
        await dHash(sharp(fixture('jpeg-exif-orientation6-panasonic-gf1.jpg')).rotate()),
      ),
    ).toBeLessThanOrEqual(SIMILAR);
    await expectPreviews(json, 428, 640);
  });

  it('refuses a truncated JPEG with 422 CORRUPT_FILE, keeping nothing', async () => {
    const cut = fixture('jpeg-exif-gps-nikon-d2h.jpg').subarray(0, 40_000);
    const reply = await upload(t.url, await t.token('cutter'), { name: 'cut.jpg', bytes: cut });
    expect(reply.status).toBe(422);
    expect(reply.json.code).toBe('CORRUPT_FILE');
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'cutter'")).toEqual([]);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'cutter'")).toEqual([]);
  });

  it('serves previews with ETag, 304 and a day of private caching; 400 for another size, 404 without previews', async () => {
    const { json } = await uploadFixture(t.url, token, 'webp-lossy-alpha.webp');
    const first = await preview(json.id);
    expect(first.status).toBe(200);
    expect((await sharp(first.body).metadata()).width).toBe(256);
    expect(first.headers.get('cache-control')).toBe('private, max-age=86400');
    const again = await request(`${t.url}/api/v1/media/${json.id}/preview`, {
      token,
      headers: { 'If-None-Match': first.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('private, max-age=86400');
    expect((await preview(json.id, 100)).json).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    expect(
      (await request(`${t.url}/api/v1/media/${json.id}/preview`, { token: await t.token('stranger') })).status,
    ).toBe(404);
    const zip = await uploadFixture(t.url, token, 'zip-html-pages.zip');
    expect((await preview(zip.json.id)).json).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
  });

  it('deletes the previews with the media', async () => {
    const { json } = await upload(t.url, token, {
      name: 'gone.png',
      bytes: await sharp({ create: { width: 300, height: 200, channels: 3, background: '#336699' } })
        .png()
        .toBuffer(),
    });
    const keys = await query<{ blob_key: string }>(t.databaseUrl, 'SELECT blob_key FROM previews WHERE media_id = $1', [
      json.id,
    ]);
    expect(keys).toHaveLength(3);
    expect((await request(`${t.url}/api/v1/media/${json.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await query(t.databaseUrl, 'SELECT id FROM previews WHERE media_id = $1', [json.id])).toEqual([]);
    expect((await preview(json.id)).status).toBe(404);
  });
});

describe('decoder limits', () => {
  it('refuses an image above MAX_IMAGE_PIXELS with 413 before decoding it', async () => {
    const t = await startTestApp({ env: { MAX_IMAGE_PIXELS: '1000000' } });
    try {
      const big = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#808080' } })
        .png()
        .toBuffer();
      const reply = await upload(t.url, await t.token('pixels'), { name: 'wide.png', bytes: big });
      expect(reply.status).toBe(413);
      expect(reply.json.message).toMatch(/megapixels/);
      expect(t.tempFiles()).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
