import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/** What ffprobe says of a file the service served. */
function ffprobe(data: Buffer): { codec: string; durationMs: number } {
  const dir = mkdtempSync(join(tmpdir(), 'media-test-probe-'));
  try {
    const path = join(dir, 'file');
    writeFileSync(path, data);
    const out = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path]).toString(),
    );
    return { codec: out.streams[0].codec_name, durationMs: Math.round(Number(out.format.duration) * 1000) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sound of a file, decoded to PCM (a remux without tags must not change it). */
function decoded(data: Buffer): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'media-test-pcm-'));
  try {
    const path = join(dir, 'file');
    writeFileSync(path, data);
    return execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-f', 's16le', 'pipe:1'], {
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('audio processing', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('singer');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  it.each([
    ['wav-pcm16-48k-mono.wav', 'pcm_s16le', 1430, 1, 48000],
    ['ogg-vorbis-complete.ogg', 'vorbis', 1090, 2, 44100],
    ['m4a-aac-from-mp4.m4a', 'aac', 5568, 1, 48000],
  ])(
    '%s: remuxed without tags (not re-encoded), probed, peaks and a waveform',
    async (name, codec, duration, channels, sampleRate) => {
      const bytes = fixture(name);
      const { status, json } = await uploadFixture(t.url, token, name);
      expect(status).toBe(201);
      expect(json).toMatchObject({
        type: 'audio',
        originalSize: bytes.length,
        metadata: { codec, channels, sampleRate },
      });
      expect(Math.abs(json.metadata.durationMs - duration)).toBeLessThan(60);
      expect(json.metadata.bitrate).toBeGreaterThan(0);
      expect(json.metadata.peaks).toHaveLength(100);
      expect(Math.max(...json.metadata.peaks)).toBe(1);
      expect(json.metadata.peaks.every((p: number) => p >= 0 && p <= 1)).toBe(true);
      expect(json.previews.map((p: { width: number; height: number }) => [p.width, p.height])).toEqual([
        [64, 16],
        [256, 64],
        [512, 128],
      ]);
      const waveform = await request(`${t.url}/api/v1/media/${json.id}/preview?size=512`, { token });
      expect(await sharp(waveform.body).metadata()).toMatchObject({ format: 'webp', width: 512, height: 128 });
      const served = (await request(`${t.url}/api/v1/media/${json.id}`, { token })).body;
      expect(json.size).toBe(served.length);
      expect(decoded(served).equals(decoded(bytes))).toBe(true);
    },
  );

  it('stores audio above 10 MB as MP3 at 128 kbps, same duration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'media-test-audio-'));
    try {
      const path = join(dir, 'long.wav');
      ffmpeg(...lavfi('sine=frequency=440:duration=70:sample_rate=48000'), '-ac', '2', path);
      const wav = readFileSync(path);
      expect(wav.length).toBeGreaterThan(10 * 1024 * 1024);
      const { json } = await upload(t.url, token, { name: 'long.wav', bytes: wav });
      expect(json).toMatchObject({ mimeType: 'audio/mpeg', originalMimeType: 'audio/wav', originalSize: wav.length });
      expect(json.size).toBeLessThan(wav.length / 8);
      const served = ffprobe((await request(`${t.url}/api/v1/media/${json.id}`, { token })).body);
      expect(served.codec).toBe('mp3');
      expect(Math.abs(served.durationMs - 70_000)).toBeLessThan(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses audio that does not decode with 422 CORRUPT_FILE', async () => {
    const m4a = fixture('m4a-aac-from-mp4.m4a');
    const damaged = Buffer.concat([m4a.subarray(0, 64), Buffer.alloc(m4a.length - 64, 0x55)]);
    const reply = await upload(t.url, await t.token('damaged'), { name: 'voice.m4a', bytes: damaged });
    expect(reply.status).toBe(422);
    expect(reply.json.code).toBe('CORRUPT_FILE');
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'damaged'")).toEqual([]);
  });
});

describe('long audio in the background', () => {
  it('answers 202 when MP3 encoding does not fit the processing budget, and a worker finishes it', async () => {
    const t = await startTestApp({ env: { PROCESSING_BUDGET_SECONDS: '0', JOB_POLL_SECONDS: '0.5' } });
    const dir = mkdtempSync(join(tmpdir(), 'media-test-audio-'));
    try {
      const token = await t.token('podcaster');
      const path = join(dir, 'talk.wav');
      ffmpeg(...lavfi('sine=frequency=220:duration=70:sample_rate=48000'), '-ac', '2', path);
      const { status, json } = await upload(t.url, token, { name: 'talk.wav', bytes: readFileSync(path) });
      expect(status).toBe(202);
      expect(json).toMatchObject({ status: 'processing', mimeType: 'audio/wav', metadata: { channels: 2 } });
      expect(json.metadata.peaks).toHaveLength(100);
      let media = json;
      for (let i = 0; i < 120 && media.status === 'processing'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        media = (await request(`${t.url}/api/v1/media/${json.id}/metadata`, { token })).json;
      }
      expect(media).toMatchObject({ status: 'ready', mimeType: 'audio/mpeg', originalMimeType: 'audio/wav' });
      expect(ffprobe((await request(`${t.url}/api/v1/media/${json.id}`, { token })).body).codec).toBe('mp3');
      expect(t.tempFiles()).toEqual([]);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('duration limit', () => {
  it('refuses audio and video longer than MAX_MEDIA_DURATION_SECONDS with 413, keeping nothing', async () => {
    const t = await startTestApp({ env: { MAX_MEDIA_DURATION_SECONDS: '1' } });
    try {
      const token = await t.token('long-talker');
      for (const name of ['wav-pcm16-48k-mono.wav', 'mp4-h264-aac.mp4']) {
        const reply = await uploadFixture(t.url, token, name);
        expect(reply.status).toBe(413);
        expect(reply.json).toMatchObject({ code: 'FILE_TOO_LARGE', message: 'The file is longer than 1 seconds' });
      }
      expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'long-talker'")).toEqual([]);
      expect(t.tempFiles()).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
