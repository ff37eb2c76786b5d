import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { keyframePhashes } from '../../src/moderation/keyframes';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';
import { ffmpeg, lavfi } from '../support/ffmpeg';
import { hamming } from '../support/image';

const work = mkdtempSync(join(tmpdir(), 'media-test-video-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A short clip made by ffmpeg's test sources. */
function clip(name: string, args: string[]): Buffer {
  const path = join(work, name);
  ffmpeg(
    ...lavfi('testsrc2=size=320x240:rate=25:duration=2'),
    ...lavfi('sine=frequency=300:duration=2'),
    ...args,
    path,
  );
  return readFileSync(path);
}

function ffprobe(data: Buffer): {
  streams: { codec_name: string; codec_type: string }[];
  format: { duration: string; tags?: Record<string, string> };
} {
  const path = join(work, `probe-${Date.now()}`);
  writeFileSync(path, data);
  return JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path]).toString(),
  );
}

/** The media once its background processing has ended. */
async function settledMedia(t: TestApp, token: string, id: string) {
  for (let i = 0; i < 240; i++) {
    const { json } = await request(`${t.url}/api/v1/media/${id}/metadata`, { token });
    if (json.status !== 'processing') return json;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('still processing');
}

describe('video processing', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('director');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  it('MP4 (H.264 + AAC): probed, a frame as previews, remuxed with its index first', async () => {
    const { status, json } = await uploadFixture(t.url, token, 'mp4-h264-aac.mp4');
    expect(status).toBe(201);
    expect(json).toMatchObject({
      mimeType: 'video/mp4',
      metadata: { width: 560, height: 320, codecs: { video: 'h264', audio: 'aac' }, hasAudio: true, compliant: true },
    });
    expect(Math.abs(json.metadata.durationMs - 5568)).toBeLessThan(100);
    expect(json.metadata.fps).toBeGreaterThan(0);
    const stored = (await request(`${t.url}/api/v1/media/${json.id}`, { token })).body;
    expect(stored.indexOf('moov')).toBeLessThan(stored.indexOf('mdat')); // faststart
    expect(
      ffprobe(stored)
        .streams.map((s) => s.codec_name)
        .sort(),
    ).toEqual(['aac', 'h264']);
    expect(json.previews.map((p: { width: number; height: number }) => [p.width, p.height])).toEqual([
      [64, 37],
      [256, 146],
      [512, 293],
    ]);
    const frame = await request(`${t.url}/api/v1/media/${json.id}/preview?size=512`, { token });
    expect(await sharp(frame.body).metadata()).toMatchObject({ format: 'webp', width: 512, height: 293 });
    expect((await sharp(frame.body).stats()).channels[0].stdev).toBeGreaterThan(5); // a picture, not a blank frame
  });

  it('drops location and every other metadata tag', async () => {
    const tagged = clip('tagged.mp4', [
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-c:a',
      'aac',
      '-metadata',
      'location=+48.8584+002.2945/',
      '-metadata',
      'title=secret place',
      '-movflags',
      '+use_metadata_tags',
    ]);
    expect(tagged.includes(Buffer.from('+48.8584'))).toBe(true);
    const { json } = await upload(t.url, token, { name: 'tagged.mp4', bytes: tagged });
    const stored = (await request(`${t.url}/api/v1/media/${json.id}`, { token })).body;
    expect(stored.includes(Buffer.from('+48.8584'))).toBe(false);
    expect(stored.includes(Buffer.from('secret place'))).toBe(false);
    expect(JSON.stringify(ffprobe(stored).format.tags ?? {})).not.toMatch(/location|secret/);
  });

  it.each([
    ['clip.webm', ['-c:v', 'libvpx', '-b:v', '200k', '-c:a', 'libvorbis'], 'video/webm'],
    ['clip.avi', ['-c:v', 'mpeg4', '-c:a', 'mp3'], 'video/x-msvideo'],
  ])(
    '%s: transcoded to H.264/AAC MP4 before the answer when that fits the processing budget',
    async (name, args, mime) => {
      const bytes = clip(name, args as string[]);
      const { status, json } = await upload(t.url, token, { name, bytes });
      expect(status).toBe(201);
      expect(json).toMatchObject({
        status: 'ready',
        mimeType: 'video/mp4',
        originalMimeType: mime,
        metadata: { width: 320, height: 240, hasAudio: true, compliant: false },
      });
      expect(Math.abs(json.metadata.durationMs - 2000)).toBeLessThan(150);
      expect(json.previews).toHaveLength(3);
      const stored = ffprobe((await request(`${t.url}/api/v1/media/${json.id}`, { token })).body);
      expect(stored.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    },
  );

  it('refuses a damaged MP4 with 422 CORRUPT_FILE, keeping nothing', async () => {
    const mp4 = fixture('mp4-h264-aac.mp4');
    const damaged = Buffer.concat([mp4.subarray(0, 4096), Buffer.alloc(mp4.length - 4096, 0)]);
    const reply = await upload(t.url, await t.token('breaker'), { name: 'damaged.mp4', bytes: damaged });
    expect(reply.status).toBe(422);
    expect(reply.json.code).toBe('CORRUPT_FILE');
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'breaker'")).toEqual([]);
  });
});

describe('video transcoding in the background', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    // A budget of nothing: every transcode goes to a worker.
    t = await startTestApp({ env: { JOB_POLL_SECONDS: '0.5', PROCESSING_BUDGET_SECONDS: '0' } });
    token = await t.token('transcoder');
  });
  afterAll(() => t.close());

  const settled = (id: string) => settledMedia(t, token, id);

  it('answers 202 for a WebM, serves 409 until a worker has made it H.264/AAC MP4, then the new version', async () => {
    const webm = clip('job.webm', [
      '-c:v',
      'libvpx',
      '-b:v',
      '300k',
      '-c:a',
      'libvorbis',
      '-metadata',
      'location=+40.6892-074.0445/',
    ]);
    const accepted = await upload(t.url, token, { name: 'job.webm', bytes: webm });
    expect(accepted.status).toBe(202);
    expect(accepted.json).toMatchObject({
      status: 'processing',
      mimeType: 'video/webm',
      metadata: { compliant: false, width: 320, height: 240 },
    });
    expect(accepted.json.previews).toHaveLength(3);
    const [atUpload] = await query<{ phashes: string[] }>(
      t.databaseUrl,
      'SELECT phashes::text[] AS phashes FROM media WHERE id = $1',
      [accepted.json.id],
    );
    expect(atUpload.phashes).toHaveLength(4);
    const early = await request(`${t.url}/api/v1/media/${accepted.json.id}`, { token });
    if (early.status !== 200)
      expect([early.status, early.json.code, Number(early.headers.get('retry-after')) > 0]).toEqual([
        409,
        'MEDIA_NOT_READY',
        true,
      ]);
    const ready = await settled(accepted.json.id);
    expect(ready).toMatchObject({
      status: 'ready',
      mimeType: 'video/mp4',
      originalMimeType: 'video/webm',
      originalSize: webm.length,
    });
    const stored = (await request(`${t.url}/api/v1/media/${ready.id}`, { token })).body;
    expect(stored.length).toBe(ready.size);
    const probed = ffprobe(stored);
    expect(probed.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(Number(probed.format.duration) * 1000 - 2000)).toBeLessThan(200);
    expect(stored.includes(Buffer.from('+40.6892'))).toBe(false);
    // Screening's keyframes were hashed at upload and the job kept them: they are the new version's
    // frames at the same times, within the distance at which the blocklist matches (PHASH_MAX_DISTANCE).
    const [row] = await query<{ phashes: string[] }>(
      t.databaseUrl,
      'SELECT phashes::text[] AS phashes FROM media WHERE id = $1',
      [ready.id],
    );
    expect(row.phashes).toEqual(atUpload.phashes);
    const dir = mkdtempSync(join(tmpdir(), 'job-keyframes-'));
    try {
      writeFileSync(join(dir, 'stored.mp4'), stored);
      const ofVersion = await keyframePhashes('mp4', join(dir, 'stored.mp4'), 2000, new AbortController().signal);
      expect(ofVersion).toHaveLength(4);
      const distances = ofVersion.map((hash, i) => hamming(hash, BigInt.asUintN(64, BigInt(row.phashes[i]))));
      expect(Math.max(...distances)).toBeLessThanOrEqual(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const usage = (await request(`${t.url}/api/v1/media/storage`, { token })).json;
    expect(usage.usedBytes).toBe(ready.size); // the quota follows the stored version
    const blobs = await query(t.databaseUrl, 'SELECT count(*)::int AS n FROM data_keys WHERE owner_id = $1', [
      'transcoder',
    ]);
    expect(blobs).toEqual([{ n: 1 + 3 }]); // the upload's blob was replaced, not kept
    expect(t.tempFiles()).toEqual([]);
  });

  it('scales video above 1080p down to fit 1080p', async () => {
    const path = join(work, 'tall.avi');
    ffmpeg(...lavfi('testsrc2=size=2560x1440:rate=10:duration=1'), '-c:v', 'mpeg4', '-q:v', '10', path);
    const accepted = await upload(t.url, token, { name: 'tall.avi', bytes: readFileSync(path) });
    expect(accepted.status).toBe(202);
    const ready = await settled(accepted.json.id);
    expect(ready.status).toBe('ready');
    const video = ffprobe((await request(`${t.url}/api/v1/media/${ready.id}`, { token })).body).streams.find(
      (s) => s.codec_type === 'video',
    ) as unknown as { width: number; height: number };
    expect([video.width, video.height]).toEqual([1920, 1080]);
  });
});

describe('a background job that fails for good', () => {
  it('leaves the media failed with a failureReason; its download and previews answer 404', async () => {
    // The API alone first (no worker), so the stored upload can be damaged before the job runs.
    const api = await startTestApp({
      env: { MEDIA_ROLE: 'api', PROCESSING_BUDGET_SECONDS: '0', JOB_RETRY_LIMIT: '0' },
    });
    const token = await api.token('unlucky');
    const { status, json } = await upload(api.url, token, {
      name: 'doomed.avi',
      bytes: clip('doomed.avi', ['-c:v', 'mpeg4', '-c:a', 'mp3']),
    });
    expect(status).toBe(202);
    const [row] = await query(api.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [json.id]);
    const path = join(api.dataDir, 'storage', ...row.blob_key.split('/'));
    const blob = readFileSync(path);
    blob[40] ^= 0xff; // the first segment no longer authenticates
    writeFileSync(path, blob);
    const worker = await startTestApp({
      databaseUrl: api.databaseUrl,
      dataDir: api.dataDir,
      env: { MEDIA_ROLE: 'worker', JOB_RETRY_LIMIT: '0', JOB_POLL_SECONDS: '0.5' },
    });
    try {
      const failed = await settledMedia(api, token, json.id);
      expect(failed).toMatchObject({ status: 'failed', failureReason: 'INTERNAL_ERROR' });
      expect((await request(`${api.url}/api/v1/media/${json.id}`, { token })).status).toBe(404);
      expect((await request(`${api.url}/api/v1/media/${json.id}/preview`, { token })).status).toBe(404);
      expect((await request(`${api.url}/api/v1/media/${json.id}`, { method: 'DELETE', token })).status).toBe(204);
    } finally {
      await worker.close();
      await api.close();
    }
  });
});

describe('a job committed by this process starts at once, not at the next poll', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Workers poll once an hour here: only the wake after the upload's commit can start its job within the test.
    t = await startTestApp({ env: { JOB_POLL_SECONDS: '3600', PROCESSING_BUDGET_SECONDS: '0' } });
  });
  afterAll(() => t.close());

  it('transcodes two uploads in turn, each woken by its own commit', async () => {
    const token = await t.token('woken');
    for (const name of ['first.webm', 'second.webm']) {
      const webm = clip(name, ['-c:v', 'libvpx', '-b:v', '200k', '-c:a', 'libvorbis']);
      const accepted = await upload(t.url, token, { name, bytes: webm });
      expect(accepted.status).toBe(202);
      expect(await settledMedia(t, token, accepted.json.id)).toMatchObject({ status: 'ready', mimeType: 'video/mp4' });
    }
  });
});
