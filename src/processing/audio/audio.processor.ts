import { join } from 'node:path';
import sharp from 'sharp';
import { MediaError } from '../../errors.js';
import { type AvLimits, ffmpeg, inputArgs, type Probe, probe, probeUpload, untaggedAudioArgs } from '../av/ffmpeg.js';
import { withStoredAudio } from '../av/stored-metadata.js';
import { previewsIfPossible, renderPreviews } from '../previews.js';
import type {
  FinishedFile,
  FinishedVersion,
  FinishInput,
  Processor,
  ProcessInput,
  ProcessResult,
  Rendition,
} from '../processor.js';
import { peaks, waveformSvg } from './waveform.js';

/** Above this, audio is stored as MP3 at 128 kbps (seed); below, as uploaded. */
const TRANSCODE_ABOVE_BYTES = 10 * 1024 * 1024;
/** Peaks are read from mono PCM at this rate: enough for 100 slices, little to hold. */
const PEAK_RATE = 2000;
/** Seconds of MP3 encoding per second of audio on this kind of machine (5 min of WAV ≈ 2 s). */
const MP3_SECONDS_PER_SECOND = 0.007;

/**
 * Audio: ffprobe with the verified demuxer (no audio stream, no duration → CORRUPT_FILE),
 * then the whole stream decoded to mono PCM, which proves it decodes and gives the peaks
 * for the metadata and the waveform previews. Large files become MP3 128k; the others are
 * stored remuxed without tags or cover art (no re-encoding). Neither keeps any metadata.
 */
export class AudioProcessor implements Processor {
  readonly type = 'audio';

  constructor(private readonly limits: AvLimits) {}

  async process(input: ProcessInput): Promise<ProcessResult> {
    const { ext, path, probed, durationMs: duration } = await probeUpload(input, this.limits);
    const stream = probed.streams.find((s) => s.codec_type === 'audio');
    if (!stream || !duration) throw new MediaError('CORRUPT_FILE', 'The file holds no playable audio');
    const pcm = await ffmpeg(
      [...inputArgs(ext, path), '-map', '0:a:0', '-ac', '1', '-ar', String(PEAK_RATE), '-f', 's16le', 'pipe:1'],
      {
        signal: input.signal,
        timeoutMs: 120_000,
        maxOutputBytes: 64 * 1024 * 1024,
      },
    );
    if (!pcm.length) throw new MediaError('CORRUPT_FILE', 'The audio does not decode');
    const values = peaks(pcm);
    const picture = sharp(Buffer.from(waveformSvg(values)));
    const toMp3 = !input.previewsOnly && input.size > TRANSCODE_ABOVE_BYTES;
    // MP3 encoding runs at about 150× real time here: only hours of audio wait for a worker.
    const later = toMp3 && (duration / 1000) * MP3_SECONDS_PER_SECOND > this.limits.budgetSeconds;
    // A long recording left for the worker is not served until it is MP3, which has no tags either.
    const untag = !input.previewsOnly && !toMp3;
    const [previews, stored, untagged] = await Promise.all([
      previewsIfPossible(() => renderPreviews(picture, 512, 128)),
      toMp3 && !later ? this.encoded(ext, path, input) : undefined,
      untag ? this.untagged(ext, stream.codec_name ?? '', path, input) : undefined,
    ]);
    // The bitrate of what is stored (cover art no longer counted in).
    const format = untagged?.probed.format ?? probed.format;
    const metadata = {
      durationMs: duration,
      codec: stream.codec_name,
      bitrate: Number(format.bit_rate ?? stream.bit_rate) || undefined,
      channels: stream.channels,
      sampleRate: Number(stream.sample_rate) || undefined,
      peaks: values,
    };
    return {
      stored: stored?.rendition ?? untagged?.rendition,
      finishLater: later,
      ...previews,
      // Like size and mimeType, metadata describes the stored version: an MP3 made now is probed.
      metadata: stored ? withStoredAudio(metadata, stored.probed) : metadata,
    };
  }

  /** The background job's work: the upload as MP3, and how `metadata` is updated to describe it. */
  async finish({ ext, path, workDir, signal, metadata }: FinishInput): Promise<FinishedVersion> {
    const file = await this.toMp3(ext, path, workDir, signal);
    return { ...file, describe: async (s) => withStoredAudio(metadata, await probe('mp3', file.path, s)) };
  }

  /** `path` (of verified type `ext`) as MP3 128k in `workDir`. */
  private async toMp3(ext: string, path: string, workDir: string, signal: AbortSignal): Promise<FinishedFile> {
    const output = join(workDir, 'stored.mp3');
    const args = [
      ...inputArgs(ext, path),
      '-map',
      '0:a:0',
      '-map_metadata',
      '-1',
      '-c:a',
      'libmp3lame',
      '-b:a',
      '128k',
      output,
    ];
    await ffmpeg(args, { signal, timeoutMs: 3_600_000 });
    return { path: output, mime: 'audio/mpeg' };
  }

  /**
   * The upload remuxed into its own container without tags, chapters or cover art; the
   * copy is probed again (it must still hold audio with a duration).
   */
  private async untagged(
    ext: string,
    codec: string,
    path: string,
    input: ProcessInput,
  ): Promise<{ rendition: Rendition; probed: Probe }> {
    const output = join(input.workDir, `stored.${ext}`);
    await ffmpeg(untaggedAudioArgs(ext, codec, path, output), { signal: input.signal, timeoutMs: 120_000 });
    const probed = await probe(ext, output, input.signal);
    if (!probed.streams.some((s) => s.codec_type === 'audio') || !(Number(probed.format.duration) > 0)) {
      throw new MediaError('CORRUPT_FILE', 'The audio could not be stored without its tags');
    }
    return { rendition: { path: output, mime: input.format.mime, ext }, probed };
  }

  private async encoded(
    ext: string,
    path: string,
    input: ProcessInput,
  ): Promise<{ rendition: Rendition; probed: Probe }> {
    const { path: output, mime } = await this.toMp3(ext, path, input.workDir, input.signal);
    return { rendition: { path: output, mime, ext: 'mp3' }, probed: await probe('mp3', output, input.signal) };
  }
}
