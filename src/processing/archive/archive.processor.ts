import { MediaError } from '../../errors.js';
import { plainCopy } from '../plain-copy.js';
import type { Processor, ProcessInput, ProcessResult } from '../processor.js';
import { runTool } from '../run-tool.js';
import { type ArchiveEntry, judgeArchive, refuse } from './archive-verdict.js';
import { inspectZip } from './zip-inspection.js';

interface LsarEntry {
  XADFileName?: string;
  /** Where each entry's compressed data lies in the archive. */
  XADSolidObject?: { Parts?: { Offset?: number; InputLength?: number }[] }[];
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
export class ArchiveProcessor implements Processor {
  readonly type = 'archive';

  async process(input: ProcessInput): Promise<ProcessResult> {
    const metadata =
      input.format.ext === 'zip'
        ? await inspectZip(input.file, input.signal)
        : judgeArchive(await this.rarEntries(input));
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
    // lsar lists what it could read and stops quietly at garbage: a signature followed by
    // noise lists nothing, a RAR with something appended lists entries that end early.
    if (contents.length === 0) throw refuse('the RAR lists no entries');
    if (input.size - dataEnd(contents) > allowedTail(input.size))
      throw refuse('the RAR directory does not reach the end of the file');
    return contents.map((entry) => ({
      name: entry.XADFileName ?? '',
      uncompressedSize: entry.XADFileSize ?? 0,
      compressedSize: entry.XADCompressedSize ?? 0,
      encrypted: Boolean(entry.XADIsEncrypted) || ((entry.RARFlags ?? 0) & 0x04) !== 0,
      symlink: Boolean(entry.XADIsLink),
    }));
  }
}

/** Where the last entry's compressed data ends. */
function dataEnd(contents: LsarEntry[]): number {
  const ends = contents.flatMap((entry) =>
    (entry.XADSolidObject ?? []).flatMap((object) =>
      (object.Parts ?? []).map((part) => (part.Offset ?? 0) + (part.InputLength ?? 0)),
    ),
  );
  return Math.max(0, ...ends);
}

/**
 * What may follow the last entry's data: the end-of-archive block (7 bytes in RAR 4, a few
 * in RAR 5), and the blocks lsar does not list, a recovery record (a few per cent of the
 * archive, as WinRAR makes it by default) and RAR 5's quick-open record.
 */
function allowedTail(size: number): number {
  return 4096 + Math.ceil(size * 0.1);
}
