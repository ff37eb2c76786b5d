import { join } from 'node:path';
import { MediaError } from '../../errors.js';
import { runTool } from '../run-tool.js';

const TIMEOUT_MS = 30_000;

/** The page count from `pdfinfo`; a PDF it cannot parse is CORRUPT_FILE. */
export async function pdfPages(path: string, signal: AbortSignal): Promise<number> {
  const info = (await runTool('pdfinfo', [path], { timeoutMs: TIMEOUT_MS, signal })).toString('utf8');
  const pages = Number(/^Pages:\s+(\d+)/m.exec(info)?.[1]);
  if (!(pages > 0)) throw new MediaError('CORRUPT_FILE', 'The PDF has no pages');
  return pages;
}

/** Page 1 rendered to a PNG fitting inside `box` pixels, in `workDir`; returns its path. */
export async function renderFirstPage(
  path: string,
  workDir: string,
  box: number,
  signal: AbortSignal,
): Promise<string> {
  const prefix = join(workDir, 'page');
  await runTool('pdftoppm', ['-f', '1', '-l', '1', '-singlefile', '-png', '-scale-to', String(box), path, prefix], {
    timeoutMs: TIMEOUT_MS,
    signal,
  });
  return `${prefix}.png`;
}
