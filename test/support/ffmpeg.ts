import { execFileSync } from 'node:child_process';

/** FFmpeg input arguments of a generated source, e.g. lavfi('testsrc2=size=320x240:rate=25:duration=2'). */
export const lavfi = (source: string): string[] => ['-f', 'lavfi', '-i', source];

/** Runs FFmpeg quietly and overwriting (`ffmpeg -v error -y …args`): how tests make their media. */
export function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}
