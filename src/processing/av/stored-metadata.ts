import type { Probe } from './ffmpeg.js';

/** What audio metadata reports of a file, from ffprobe of that file (undefined: not known). */
export function audioFacts(probed: Probe): Record<string, unknown> {
  const stream = probed.streams.find((s) => s.codec_type === 'audio');
  const seconds = Number(probed.format.duration);
  return {
    durationMs: Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : undefined,
    codec: stream?.codec_name,
    bitrate: Number(probed.format.bit_rate ?? stream?.bit_rate) || undefined,
    channels: stream?.channels,
    sampleRate: Number(stream?.sample_rate) || undefined,
  };
}

/**
 * Audio metadata once a new stored version (MP3) replaces the upload: like size and
 * mimeType it describes the stored file (`probed`), whose facts replace the upload's where
 * known; the upload's codec and bitrate are kept as `original`. The peaks (the same sound)
 * and any other key stay.
 */
export function withStoredAudio(upload: Record<string, unknown>, probed: Probe): Record<string, unknown> {
  const facts = Object.fromEntries(Object.entries(audioFacts(probed)).filter(([, value]) => value !== undefined));
  return { ...upload, ...facts, original: upload.original ?? { codec: upload.codec, bitrate: upload.bitrate } };
}
