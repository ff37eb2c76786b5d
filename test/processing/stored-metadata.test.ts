import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { request, upload, uploadFixture } from '../support/http';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/*
 * Metadata describes the stored version, like size and mimeType: what ffprobe says of the
 * file a client downloads. The upload's codecs and bitrate stay under `original`.
 */

const work = mkdtempSync(join(tmpdir(), 'media-test-stored-meta-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let files = 0;

interface Probed {
  streams: {
    codec_type: string;
    codec_name: string;
    width?: number;
    height?: number;
    channels?: number;
    sample_rate?: string;
  }[];
  format: { duration: string; bit_rate: string };
}

function ffprobe(data: Buffer): Probed {
  const path = join(work, `probe-${files++}`);
  writeFileSync(path, data);
  return JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path]).toString(),
  );
}

/** A 2-second clip of ffmpeg's test sources: 320×240 at 25 fps with a tone. */
function clip(name: string, codecArgs: string[]): Buffer {
  const path = join(work, name);
  ffmpeg(...lavfi('testsrc=size=320x240:rate=25'), ...lavfi('sine'), '-t', '2', ...codecArgs, path);
  return readFileSync(path);
}

/** What video metadata says of a file, by ffprobe. */
function videoFacts(probed: Probed) {
  const video = probed.streams.find((s) => s.codec_type === 'video')!;
  const audio = probed.streams.find((s) => s.codec_type === 'audio');
  return {
    codecs: { video: video.codec_name, ...(audio ? { audio: audio.codec_name } : {}) },
    bitrate: Number(probed.format.bit_rate),
    width: video.width,
    height: video.height,
    durationMs: Math.round(Number(probed.format.duration) * 1000),
  };
}

/** The media once its background processing has ended. */
async function settled(t: TestApp, token: string, id: string) {
  for (let i = 0; i < 480; i++) {
    const { json } = await request(`${t.url}/api/v1/media/${id}/metadata`, { token });
    if (json.status !== 'processing') return json;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('still processing');
}

const AVI = ['clip.avi', ['-c:v', 'mpeg4', '-c:a', 'ac3'], { video: 'mpeg4', audio: 'ac3' }] as const;
const WEBM = [
  'clip.webm',
  ['-c:v', 'libvpx', '-b:v', '1M', '-c:a', 'libvorbis'],
  { video: 'vp8', audio: 'vorbis' },
] as const;

describe('metadata of a video stored at once', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('archivist');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  const download = async (id: string) => (await request(`${t.url}/api/v1/media/${id}`, { token })).body;

  it.each([AVI, WEBM])(
    "%s: codecs, bitrate, size and duration of the H.264/AAC MP4 stored; the upload's under original",
    async (name, args, uploaded) => {
      const bytes = clip(name, [...args]);
      const original = videoFacts(ffprobe(bytes));
      expect(original.codecs).toEqual(uploaded);
      const { status, json } = await upload(t.url, token, { name, bytes });
      expect(status).toBe(201);
      expect(json).toMatchObject({ status: 'ready', mimeType: 'video/mp4' });
      const stored = videoFacts(ffprobe(await download(json.id)));
      expect(stored.codecs).toEqual({ video: 'h264', audio: 'aac' });
      expect(json.metadata).toMatchObject({
        ...stored,
        hasAudio: true,
        fps: 25,
        original: { codecs: uploaded, bitrate: original.bitrate },
      });
      expect(json.metadata.bitrate).not.toBe(original.bitrate);
      // The row says the same as the answer.
      const [row] = await query<{ metadata: Record<string, unknown> }>(
        t.databaseUrl,
        'SELECT metadata FROM media WHERE id = $1',
        [json.id],
      );
      expect(row.metadata).toMatchObject({ codecs: stored.codecs, bitrate: stored.bitrate });
    },
  );

  it('a remuxed MP4 reports the bitrate of the remuxed file', async () => {
    const { json } = await uploadFixture(t.url, token, 'mp4-h264-aac.mp4');
    const stored = videoFacts(ffprobe(await download(json.id)));
    expect(json.metadata).toMatchObject({
      ...stored,
      compliant: true,
      original: { codecs: { video: 'h264', audio: 'aac' } },
    });
  });
});

describe('metadata after a background transcode', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    // A budget of nothing: every transcode goes to a worker.
    t = await startTestApp({ env: { JOB_POLL_SECONDS: '0.5', PROCESSING_BUDGET_SECONDS: '0' } });
    token = await t.token('late-archivist');
  });
  afterAll(() => t.close());

  it.each([AVI, WEBM])(
    "%s: the upload's while processing, the stored MP4's once ready (answer and row)",
    async (name, args, uploaded) => {
      const bytes = clip(`job-${name}`, [...args]);
      const original = videoFacts(ffprobe(bytes));
      const accepted = await upload(t.url, token, { name, bytes });
      expect(accepted.status).toBe(202);
      // Until then the upload is what is stored, and what metadata describes.
      expect(accepted.json.metadata).toMatchObject({ codecs: uploaded, bitrate: original.bitrate });
      expect(accepted.json.metadata.original).toBeUndefined();
      const ready = await settled(t, token, accepted.json.id);
      expect(ready).toMatchObject({ status: 'ready', mimeType: 'video/mp4' });
      const stored = videoFacts(ffprobe((await request(`${t.url}/api/v1/media/${ready.id}`, { token })).body));
      expect(stored.codecs).toEqual({ video: 'h264', audio: 'aac' });
      expect(ready.metadata).toMatchObject({
        ...stored,
        hasAudio: true,
        compliant: false,
        original: { codecs: uploaded, bitrate: original.bitrate },
      });
      const [row] = await query<{ metadata: Record<string, unknown> }>(
        t.databaseUrl,
        'SELECT metadata FROM media WHERE id = $1',
        [ready.id],
      );
      expect(row.metadata).toMatchObject({ codecs: stored.codecs, bitrate: stored.bitrate });
      expect(t.tempFiles()).toEqual([]);
    },
  );

  it("long audio made MP3 by the worker: codec, bitrate and duration of the MP3, the WAV's under original", async () => {
    const path = join(work, 'talk.wav');
    ffmpeg(...lavfi('sine=frequency=220:duration=70:sample_rate=48000'), '-ac', '2', path);
    const wav = readFileSync(path);
    const uploadedBitrate = Number(ffprobe(wav).format.bit_rate);
    const accepted = await upload(t.url, token, { name: 'talk.wav', bytes: wav });
    expect(accepted.status).toBe(202);
    expect(accepted.json.metadata).toMatchObject({ codec: 'pcm_s16le', bitrate: uploadedBitrate });
    const ready = await settled(t, token, accepted.json.id);
    expect(ready).toMatchObject({ status: 'ready', mimeType: 'audio/mpeg' });
    const probed = ffprobe((await request(`${t.url}/api/v1/media/${ready.id}`, { token })).body);
    const audio = probed.streams.find((s) => s.codec_type === 'audio')!;
    expect(ready.metadata).toMatchObject({
      codec: 'mp3',
      bitrate: Number(probed.format.bit_rate),
      durationMs: Math.round(Number(probed.format.duration) * 1000),
      channels: audio.channels,
      sampleRate: Number(audio.sample_rate),
      original: { codec: 'pcm_s16le', bitrate: uploadedBitrate },
    });
    expect(ready.metadata.peaks).toHaveLength(100);
    expect(t.tempFiles()).toEqual([]);
  });
});
