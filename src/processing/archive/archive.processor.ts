import { MediaError } from '../../errors.js';
import { plainCopy } from '../plain-copy.js';
import type { ProcessInput, ProcessResult } from '../processor.js';
import { runTool } from '../run-tool.js';
import { type ArchiveEntry, judgeArchive } from './archive-verdict.js';
import { inspectZip } from './zip-inspection.js';

interface LsarEntry {
  XADFileName?: string;
  XADFileSize?: number;
  XADCompressedSize?: number;
  XADIsEncrypted?: number | boolean;
  XADIsLink?: number | boolean;
  RARFlags?: number;
}

/**
 * Archives are stored as uploaded, without previews; their directory is judged (see
 * judgeArchive). A ZIP is inspected here through the decrypting reader: directory, local
 * headers, real sizes of deflated entries, nested ZIPs (see inspectZip). A RAR's directory
 * is listed by lsar (Debian unar) from a plaintext copy, without extracting anything.
 */
export class ArchiveProcessor {
  async process(input: ProcessInput): Promise<ProcessResult> {
    const metadata = input.format.ext === 'zip' ? await inspectZip(input.file, input.signal) : judgeArchive(await this.rarEntries(input));
    return { previews: [], metadata };
  }

  private async rarEntries(input: ProcessInput): Promise<ArchiveEntry[]> {
    const path = await plainCopy(input, 'input.rar');
    const listing = await runTool('lsar', ['-j', '-nr', path], { timeoutMs: 30_000, signal: input.signal });
    let contents: LsarEntry[];
    try {
      contents = (JSON.parse(listing.toString('utf8')) as { lsarContents?: LsarEntry[] }).lsarContents ?? [];
    } catch (error) {
      throw new MediaError('CORRUPT_FILE', 'The RAR directory cannot be read', { cause: error });
    }
    return contents.map((entry) => ({
      name: entry.XADFileName ?? '',
      uncompressedSize: entry.XADFileSize ?? 0,
      compressedSize: entry.XADCompressedSize ?? 0,
      encrypted: Boolean(entry.XADIsEncrypted) || ((entry.RARFlags ?? 0) & 0x04) !== 0,
      symlink: Boolean(entry.XADIsLink),
    }));
  }
}
