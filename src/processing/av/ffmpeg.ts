import { MediaError } from '../../errors.js';
import { plainCopy } from '../plain-copy.js';
import type { ProcessInput } from '../processor.js';
import { runTool } from '../run-tool.js';

/**
 * FFmpeg opens a file only with the demuxer of the type its bytes were verified to be, and
 * only as a local file: it probes by content otherwise, and a playlist named ".mp4" would
 * open as HLS and reach for other files or the network.
 */
const DEMUXERS: Record<string, string> = {
  mp4: 'mov',
  mov: 'mov',
  m4a: 'mov',
  avi: 'avi',
  webm: 'matroska',
  mp3: 'mp3',
  wav: 'wav',
  aac: 'aac',
  ogg: 'ogg',
  opus: 'ogg',
};

export function inputArgs(ext: string, path: string): string[] {
  const demuxer = DEMUXERS[ext];
  if (!demuxer) throw new Error(`no demuxer for .${ext}`);
  return ['-f', demuxer, '-protocol_whitelist', 'file', '-i', path];
}

export interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
  bit_rate?: string;
  disposition?: { attached_pic?: number };
}

export interface Probe {
  streams: ProbeStream[];
  format: { duration?: string; bit_rate?: string };
}

/** ffprobe's view of the file; a file it cannot read is CORRUPT_FILE. */
export async function probe(ext: string, path: string, signal: AbortSignal): Promise<Probe> {
  const args = ['-v', 'error', ...inputArgs(ext, path), '-show_format', '-show_streams', '-of', 'json'];
  const out = await runTool('ffprobe', args, { timeoutMs: 30_000, signal });
  try {
    return JSON.parse(out.toString('utf8')) as Probe;
  } catch (error) {
    throw new MediaError('CORRUPT_FILE', undefined, { cause: error });
  }
}

/** Runs ffmpeg quietly (no stdin, no overwrite prompts); resolves with stdout. */
export function ffmpeg(args: string[], options: { signal: AbortSignal; timeoutMs: number; maxOutputBytes?: number }): Promise<Buffer> {
  return runTool('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args], options);
}

/** Duration in milliseconds, from the container; 0 when it has none. Longer than `maxSeconds` is refused (413). */
export function durationMs(probed: Probe, maxSeconds: number): number {
  const seconds = Number(probed.format.duration);
  if (seconds > maxSeconds) {
    const limit = maxSeconds < 120 ? `${maxSeconds} seconds` : `${Math.round(maxSeconds / 60)} minutes`;
    throw new MediaError('FILE_TOO_LARGE', `The file is longer than ${limit}`);
  }
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
}

export interface AvLimits {
  budgetSeconds: number;
  maxDurationSeconds: number;
}

export interface ProbedUpload {
  ext: string;
  /** The plaintext copy FFmpeg reads (a MOV may keep its index at the end: it must seek). */
  path: string;
  probed: Probe;
  durationMs: number;
}

/** The upload copied where FFmpeg can seek, probed, and its duration checked against the limit. */
export async function probeUpload(input: ProcessInput, limits: AvLimits): Promise<ProbedUpload> {
  const { ext } = input.format;
  const path = await plainCopy(input, `input.${ext}`);
  const probed = await probe(ext, path, input.signal);
  return { ext, path, probed, durationMs: durationMs(probed, limits.maxDurationSeconds) };
}
