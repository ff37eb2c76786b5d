import type { Probe, ProbeStream } from '../av/ffmpeg.js';

export interface VideoPlan {
  /** Container the streams are copied into, metadata (location included) dropped. */
  container: { muxer: string; mime: string; ext: string; flags: string[] };
  /** H.264 (+ AAC) at most 1080p in MP4: what every client plays; others await transcoding. */
  compliant: boolean;
  /** Where the preview frame is taken: min(1 s, half the duration). */
  frameAtSeconds: number;
}

const MP4 = { muxer: 'mp4', mime: 'video/mp4', ext: 'mp4', flags: ['-movflags', '+faststart'] };
const CONTAINERS: Record<string, VideoPlan['container']> = {
  mp4: MP4,
  mov: MP4,
  webm: { muxer: 'webm', mime: 'video/webm', ext: 'webm', flags: [] },
  avi: { muxer: 'avi', mime: 'video/x-msvideo', ext: 'avi', flags: [] },
};

export function videoStream(probe: Probe): ProbeStream | undefined {
  return probe.streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
}

export function planVideo(probe: Probe, ext: string, durationMs: number): VideoPlan {
  const video = videoStream(probe);
  const audio = probe.streams.filter((s) => s.codec_type === 'audio');
  const container = CONTAINERS[ext];
  const compliant =
    container === MP4 &&
    video?.codec_name === 'h264' &&
    audio.every((s) => s.codec_name === 'aac') &&
    Math.min(video.width ?? Infinity, video.height ?? Infinity) <= 1080 &&
    Math.max(video.width ?? Infinity, video.height ?? Infinity) <= 1920;
  return { container, compliant, frameAtSeconds: Math.min(1, durationMs / 2000) };
}

/** "30000/1001" → 29.97 */
export function framesPerSecond(rate: string | undefined): number | undefined {
  const [num, den] = (rate ?? '').split('/').map(Number);
  return num > 0 && den > 0 ? Math.round((num / den) * 100) / 100 : undefined;
}

/**
 * FFmpeg output arguments of the stored version of video that is not compliant: H.264
 * (veryfast, CRF 23, yuv420p) + AAC 128k in MP4 with its index first, every metadata tag
 * dropped. The ladder has one rung: video whose short side is above 1080 (or long side
 * above 1920) is scaled down to fit 1080p, keeping its aspect ratio; smaller video keeps
 * its size (even dimensions, as H.264 needs).
 *
 */
export function transcodeArgs(width: number, height: number): string[] {
  const scale = Math.min(1, 1080 / Math.min(width, height), 1920 / Math.max(width, height));
  const even = (n: number) => Math.max(2, 2 * Math.round((n * scale) / 2));
  return [
    ...['-map', '0:v:0', '-map', '0:a:0?'],
    ...[
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '23',
      '-pix_fmt',
      'yuv420p',
      '-vf',
      `scale=${even(width)}:${even(height)}`,
    ],
    ...['-c:a', 'aac', '-b:a', '128k'],
    ...['-map_metadata', '-1', '-map_metadata:s:v', '-1', '-map_metadata:s:a', '-1', '-map_chapters', '-1'],
    ...['-movflags', '+faststart', '-f', 'mp4'],
  ];
}

/**
 * Seconds a transcode is expected to take on this kind of machine: 1080p runs at about
 * twice real time (bench:process), and the cost scales with the pixels.
 */
export function transcodeSeconds(durationMs: number, width: number, height: number): number {
  return (durationMs / 1000) * ((width * height) / (1920 * 1080)) * 0.5;
}
