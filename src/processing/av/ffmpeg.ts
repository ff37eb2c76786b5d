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
  // Not an upload's ext (an APNG's is png): the image processor decodes APNG frames with it.
  apng: 'apng',
};

export function inputArgs(ext: string, path: string): string[] {
  const demuxer = DEMUXERS[ext];
  if (!demuxer) throw new Error(`no demuxer for .${ext}`);
  return ['-f', demuxer, '-protocol_whitelist', 'file', '-i', path];
}

/**
 * The muxer (and its options) that writes audio of the type `ext` back without any tag: no
 * ID3v2 header on MP3; on M4A the index first, and the iTunes flavour of MP4 (brand M4A)
 * for the codecs it holds, plain MP4 for others (MP3, Opus, FLAC) and QuickTime for PCM.
 */
function untaggedMuxer(ext: string, codec: string): string[] {
  switch (ext) {
    case 'mp3':
      return ['-id3v2_version', '0', '-f', 'mp3'];
    case 'wav':
      return ['-f', 'wav'];
    case 'aac':
      return ['-f', 'adts'];
    case 'ogg':
    case 'opus':
      return ['-f', 'ogg'];
    case 'm4a': {
      const muxer = ['aac', 'alac', 'ac3'].includes(codec) ? 'ipod' : codec.startsWith('pcm_') ? 'mov' : 'mp4';
      return ['-movflags', '+faststart', '-f', muxer];
    }
    default:
      throw new Error(`no untagged muxer for .${ext}`);
  }
}

/**
 * Arguments that copy the audio of `path` (verified type `ext`, first audio codec `codec`)
 * to `output` in the same container, without re-encoding and without what identifies
 * people: global, stream and chapter metadata (ID3, RIFF INFO and bext, MP4 ilst, Vorbis
 * comments) and every stream that is not audio (cover art, which FFmpeg shows as an
 * attached picture; data and subtitle tracks). `-fflags +bitexact` leaves out the encoder
 * tags FFmpeg would add, so the same upload gives the same bytes.
 */
export function untaggedAudioArgs(ext: string, codec: string, path: string, output: string): string[] {
  const muxer = untaggedMuxer(ext, codec);
  return [
    ...inputArgs(ext, path),
    '-map',
    '0:a',
    '-map_metadata',
    '-1',
    '-map_chapters',
    '-1',
    '-c',
    'copy',
    '-fflags',
    '+bitexact',
    ...muxer,
    output,
  ];
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
export function ffmpeg(
  args: string[],
  options: { signal: AbortSignal; timeoutMs: number; maxOutputBytes?: number },
): Promise<Buffer> {
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
