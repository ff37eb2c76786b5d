import { join } from 'node:path';
import { runTool } from '../run-tool.js';

/**
 * HEIC/HEIF → PNG with libheif's heif-convert (Debian libheif-examples): the prebuilt sharp
 * has no HEVC decoder. Reads and writes only inside the request's private directory.
 */
export async function heifToPng(inputPath: string, workDir: string, signal: AbortSignal): Promise<string> {
  const output = join(workDir, 'decoded.png');
  await runTool('heif-convert', [inputPath, output], { timeoutMs: 60_000, signal });
  return output;
}
