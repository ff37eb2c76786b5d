import { join } from 'node:path';
import sharp from 'sharp';
import { MediaError } from '../../errors.js';
import { type AvLimits, ffmpeg, inputArgs, type Probe, probe, probeUpload } from '../av/ffmpeg.js';
import { keyframePhashes } from '../../moderation/keyframes.js';
import { allOrNone } from '../all-or-none.js';
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
import {
  framesPerSecond,
  planVideo,
  transcodeArgs,
  transcodeSeconds,
  videoStream,
  type VideoPlan,
} from './video-plan.js';

/**
 * Video: ffprobe with the verified demuxer (no video stream or duration → CORRUPT_FILE),
 * one frame decoded for the previews (a first frame that does not decode → CORRUPT_FILE).
 * Video that is already H.264/AAC ≤ 1080p in MP4/MOV is remuxed at once: streams copied,
 * every metadata tag (location included) dropped, index first. Anything else is
 * transcoded to H.264/AAC MP4: before the answer when the estimate fits the processing
 * budget, else by a worker while the media stays `processing`. Metadata describes the
 * stored file, probed once it is made; the upload's codecs and bitrate stay as `original`.
 */
export class VideoProcessor implements Processor {
  readonly type = 'video';

  constructor(private readonly limits: AvLimits) {}

  async process(input: ProcessInput): Promise<ProcessResult> {
    const { ext, path, probed, durationMs: duration } = await probeUpload(input, this.limits);
    const video = videoStream(probed);
    if (!video?.width || !video.height || !duration)
      throw new MediaError('CORRUPT_FILE', 'The file holds no playable video');
    const { width, height } = video;
    const plan = planVideo(probed, ext, duration);
    // Compliant video is remuxed (seconds at most); the rest is transcoded now if that fits the budget, else by a worker.
    const later = !plan.compliant && transcodeSeconds(duration, video.width, video.height) > this.limits.budgetSeconds;
    const [previews, made, phashes] = await allOrNone(input, (shared) => [
      // The previews as soon as their frame is decoded, beside the rest.
      this.frame(ext, path, plan, shared).then((frame) =>
        previewsIfPossible(() => renderPreviews(sharp(frame), width, height)),
      ),
      input.previewsOnly
        ? undefined
        : plan.compliant
          ? this.remux(ext, path, plan, shared)
          : later
            ? undefined
            : this.transcoded(ext, path, { width, height }, shared),
      // Screening's keyframes, beside the rest: every stored version is made from these frames at these times.
      input.previewsOnly ? undefined : keyframePhashes(ext, path, duration, shared.signal),
    ]);
    // Until a stored version is made the upload is the stored file: its own facts.
    const upload = { ...videoFacts(probed), durationMs: duration, compliant: plan.compliant };
    return {
      stored: made?.rendition,
      finishLater: later,
      ...previews,
      phashes,
      metadata: made ? withStoredVersion(upload, made.probed) : upload,
    };
  }

  /** `path` (of verified type `ext`, a `width` × `height` video) transcoded to a compliant MP4 in `workDir`. */
  private async transcode(
    ext: string,
    path: string,
    size: Size,
    workDir: string,
    signal: AbortSignal,
  ): Promise<FinishedFile> {
    const output = join(workDir, 'transcoded.mp4');
    await ffmpeg([...inputArgs(ext, path), ...transcodeArgs(size.width, size.height), output], {
      signal,
      timeoutMs: 3_600_000,
    });
    return { path: output, mime: 'video/mp4' };
  }

  /**
   * The background job's work: the transcoded version of `path`, and how `metadata` (the
   * upload's, as committed by `process`, which refuses a video without a size) is updated to
   * describe it (see withStoredVersion).
   */
  async finish({ ext, path, workDir, signal, metadata }: FinishInput): Promise<FinishedVersion> {
    if (!isSize(metadata)) throw new MediaError('CORRUPT_FILE', 'The file holds no playable video');
    const file = await this.transcode(ext, path, metadata, workDir, signal);
    return { ...file, describe: async (s) => withStoredVersion(metadata, await probe('mp4', file.path, s)) };
  }

  private async transcoded(ext: string, path: string, size: Size, input: ProcessInput): Promise<Made> {
    const { path: output, mime } = await this.transcode(ext, path, size, input.workDir, input.signal);
    return { rendition: { path: output, mime, ext: 'mp4' }, probed: await probe('mp4', output, input.signal) };
  }

  private async frame(ext: string, path: string, plan: VideoPlan, input: ProcessInput): Promise<Buffer> {
    const args = [
      '-ss',
      String(plan.frameAtSeconds),
      ...inputArgs(ext, path),
      '-map',
      '0:v:0',
      '-frames:v',
      '1',
      '-f',
      'image2pipe',
      '-c:v',
      'png',
      'pipe:1',
    ];
    const png = await ffmpeg(args, { signal: input.signal, timeoutMs: 60_000, maxOutputBytes: 64 * 1024 * 1024 });
    if (!png.length) throw new MediaError('CORRUPT_FILE', 'The video does not decode');
    return png;
  }

  private async remux(ext: string, path: string, plan: VideoPlan, input: ProcessInput): Promise<Made> {
    const { container } = plan;
    const output = join(input.workDir, `stored.${container.ext}`);
    const args = [
      ...inputArgs(ext, path),
      ...['-map', '0:v:0', '-map', '0:a?', '-c', 'copy'],
      ...['-map_metadata', '-1', '-map_metadata:s:v', '-1', '-map_metadata:s:a', '-1', '-map_chapters', '-1'],
      ...container.flags,
      ...['-f', container.muxer, output],
    ];
    await ffmpeg(args, { signal: input.signal, timeoutMs: 300_000 });
    return {
      rendition: { path: output, mime: container.mime, ext: container.ext },
      probed: await probe(container.ext, output, input.signal),
    };
  }
}

interface Size {
  width: number;
  height: number;
}

const isSize = (value: unknown): value is Size => {
  const { width, height } = (value ?? {}) as Record<string, unknown>;
  return typeof width === 'number' && width > 0 && typeof height === 'number' && height > 0;
};

/** A stored version made during the request, and what ffprobe says of it. */
interface Made {
  rendition: Rendition;
  probed: Probe;
}

/** What metadata reports of a video file, from ffprobe of that file (undefined: not known). */
export function videoFacts(probed: Probe): Record<string, unknown> {
  const video = videoStream(probed);
  const audio = probed.streams.find((s) => s.codec_type === 'audio');
  const seconds = Number(probed.format.duration);
  return {
    durationMs: Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : undefined,
    width: video?.width,
    height: video?.height,
    fps: framesPerSecond(video?.avg_frame_rate),
    codecs: { video: video?.codec_name, ...(audio ? { audio: audio.codec_name } : {}) },
    bitrate: Number(probed.format.bit_rate) || undefined,
    hasAudio: Boolean(audio),
  };
}

/**
 * Metadata once a new stored version replaces the upload: like size and mimeType, it
 * describes the stored file (`probed`), whose facts replace the upload's where known; the
 * upload's codecs and bitrate are kept as `original`. Everything else (`compliant`: the
 * upload was already H.264/AAC, and keys added outside processing) stays.
 */
export function withStoredVersion(upload: Record<string, unknown>, probed: Probe): Record<string, unknown> {
  const facts = Object.fromEntries(Object.entries(videoFacts(probed)).filter(([, value]) => value !== undefined));
  return { ...upload, ...facts, original: upload.original ?? { codecs: upload.codecs, bitrate: upload.bitrate } };
}
