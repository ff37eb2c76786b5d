import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type FileHandle, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sealSegment } from '../../crypto/segment-encryptor.js';
import { SNIFF_BYTES } from '../../detection/detect-type.js';
import {
  DEFAULT_SEGMENT_BYTES,
  decodeHeader,
  encodeHeader,
  encryptedSize,
  HEADER_BYTES,
  NONCE_PREFIX_BYTES,
  segmentCount,
  TAG_BYTES,
} from '../../crypto/segment-format.js';

const NONCE_BYTES = 12;
/** How many first bytes `append` shows `checkHead`: what names the type. */
const HEAD_BYTES = SNIFF_BYTES;
/** Sealed segments are written in batches of about this much: one write per MiB, not per segment. */
const WRITE_BATCH_BYTES = 1024 * 1024;
const BASE_BYTES = 8;

/** The key a resumable upload's bytes are sealed under. */
export interface SealingKey {
  id: string;
  key: Buffer;
}

/**
 * The sealed file of a resumable upload, in its own directory; plaintext never reaches the disk.
 *
 *   data = the blob format of the finished file (crypto/segment-format.ts): header, then each
 *          64 KiB segment sealed as soon as it is full — flagged last when it is the upload's
 *          last, which Upload-Length tells in advance. Complete, it is a blob like any other.
 *   tail = the bytes after the last full segment, sealed under the same key with a random
 *          nonce (nonce 12 | base offset u64 BE | ciphertext | tag, AAD = header | base),
 *          replaced whole (written, synced, renamed) when a PATCH ends. A segment's nonce is
 *          never used for two plaintexts: a partial segment is never written into `data`.
 *
 * The durable offset is what both files prove: the full segments (a torn one after a crash
 * is cut off), plus the tail when its base is where they end — a tail older than them is
 * stale, its bytes are in the segments. A crash mid-PATCH loses at most the segment that was
 * filling, and HEAD says so.
 */
export class ResumableFile {
  private readonly pending: Buffer;
  private filled = 0;
  /** Sealed segments not written yet, and where the first of them goes. */
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private batchAt = 0;

  private constructor(
    readonly dir: string,
    private readonly key: SealingKey,
    /** Upload-Length: the plaintext size once complete. */
    readonly length: number,
    private readonly header: Buffer,
    /** Full segments in `data`. */
    private segments: number,
    tail: Buffer,
  ) {
    this.pending = Buffer.alloc(DEFAULT_SEGMENT_BYTES);
    this.filled = tail.copy(this.pending);
  }

  get dataPath(): string {
    return join(this.dir, 'data');
  }

  private get tailPath(): string {
    return join(this.dir, 'tail');
  }

  /** The bytes received and durable. */
  get offset(): number {
    return Math.min(this.length, this.segments * DEFAULT_SEGMENT_BYTES + this.filled);
  }

  get complete(): boolean {
    return this.segments === segmentCount(this.length, DEFAULT_SEGMENT_BYTES);
  }

  /** A new, empty file for `length` bytes in `dir` (which exists). */
  static async create(dir: string, key: SealingKey, length: number): Promise<ResumableFile> {
    const header = encodeHeader({
      segmentSize: DEFAULT_SEGMENT_BYTES,
      noncePrefix: randomBytes(NONCE_PREFIX_BYTES),
      dataKeyId: key.id,
    });
    await writeFile(join(dir, 'data'), header, { flag: 'wx', mode: 0o600, flush: true });
    return new ResumableFile(dir, key, length, header, 0, Buffer.alloc(0));
  }

  /** The file as a crash or a restart left it: what is durable, nothing more. */
  static async open(dir: string, key: SealingKey, length: number): Promise<ResumableFile> {
    const dataPath = join(dir, 'data');
    const handle = await open(dataPath, 'r+');
    try {
      const header = Buffer.alloc(HEADER_BYTES);
      await handle.read(header, 0, HEADER_BYTES, 0);
      decodeHeader(header); // refuses a file that is not ours
      const { size } = await handle.stat();
      const unit = DEFAULT_SEGMENT_BYTES + TAG_BYTES;
      const full =
        size === encryptedSize(length)
          ? segmentCount(length, DEFAULT_SEGMENT_BYTES)
          : Math.max(0, Math.floor((size - HEADER_BYTES) / unit));
      if (size !== HEADER_BYTES + full * unit && size !== encryptedSize(length))
        await handle.truncate(HEADER_BYTES + full * unit); // a torn segment
      const file = new ResumableFile(dir, key, length, header, full, Buffer.alloc(0));
      const tail = await readTail(join(dir, 'tail'), key.key, header, full * DEFAULT_SEGMENT_BYTES);
      file.filled = tail.copy(file.pending);
      return file;
    } finally {
      await handle.close();
    }
  }

  /**
   * Appends what `source` yields (never past `length`), sealing each segment as it fills;
   * `checkHead` sees the first HEAD_BYTES once they are in, before anything of them is sealed;
   * when the source ends or fails, makes what arrived durable (data synced, tail rewritten),
   * then resolves, or rethrows the source's failure. Answers the new offset.
   */
  async append(source: AsyncIterable<Buffer>, checkHead?: (head: Buffer) => Promise<void>): Promise<number> {
    const handle = await open(this.dataPath, 'r+');
    const headBytes = Math.min(HEAD_BYTES, this.length);
    let failure: unknown;
    try {
      for await (const chunk of source) {
        if (this.offset + chunk.length > this.length) throw new RangeError('more bytes than Upload-Length');
        for (let at = 0; at < chunk.length;) {
          const n = chunk.copy(this.pending, this.filled, at);
          this.filled += n;
          at += n;
          // The head is still in the first segment's buffer (HEAD_BYTES < a segment) when it is complete.
          if (checkHead && this.segments === 0 && this.filled >= headBytes) {
            await checkHead(this.pending.subarray(0, headBytes));
            checkHead = undefined;
          }
          if (this.filled === DEFAULT_SEGMENT_BYTES || this.offset === this.length) await this.sealSegment(handle);
        }
      }
    } catch (error) {
      failure = error;
    } finally {
      try {
        await this.writeBatch(handle);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.writeTail();
    }
    if (failure) throw failure;
    return this.offset;
  }

  /** Removes the upload's directory. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private async sealSegment(handle: FileHandle): Promise<void> {
    const last = this.segments === segmentCount(this.length, DEFAULT_SEGMENT_BYTES) - 1;
    const { noncePrefix } = decodeHeader(this.header);
    const [sealed, tag] = sealSegment(
      this.key.key,
      this.header,
      noncePrefix,
      this.segments,
      last,
      this.pending.subarray(0, this.filled),
    );
    if (!this.batch.length) this.batchAt = HEADER_BYTES + this.segments * (DEFAULT_SEGMENT_BYTES + TAG_BYTES);
    this.batch.push(sealed, tag);
    this.batchBytes += sealed.length + tag.length;
    this.segments++;
    this.filled = 0;
    if (this.batchBytes >= WRITE_BATCH_BYTES) await this.writeBatch(handle);
  }

  /**
   * One write of whole segments: a process killed mid-PATCH leaves whole segments (a torn one,
   * after a power cut, is cut off by open()); those of the batch it did not write were never
   * acknowledged.
   */
  private async writeBatch(handle: FileHandle): Promise<void> {
    if (!this.batch.length) return;
    const [batch, at] = [this.batch, this.batchAt];
    this.batch = [];
    this.batchBytes = 0;
    const bytes = batch.reduce((sum, part) => sum + part.length, 0);
    const { bytesWritten } = await handle.writev(batch, at);
    if (bytesWritten !== bytes) throw new Error(`short write of sealed segments (${bytesWritten} of ${bytes} bytes)`);
  }

  private async writeTail(): Promise<void> {
    if (this.filled === 0 || this.complete) {
      await rm(this.tailPath, { force: true });
      return;
    }
    const base = this.segments * DEFAULT_SEGMENT_BYTES;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key.key, nonce);
    cipher.setAAD(tailAad(this.header, base));
    const sealed = Buffer.concat([
      nonce,
      baseBytes(base),
      cipher.update(this.pending.subarray(0, this.filled)),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const staged = `${this.tailPath}.new`;
    await writeFile(staged, sealed, { mode: 0o600, flush: true });
    await rename(staged, this.tailPath);
  }
}

function baseBytes(base: number): Buffer {
  const bytes = Buffer.alloc(BASE_BYTES);
  bytes.writeBigUInt64BE(BigInt(base));
  return bytes;
}

const tailAad = (header: Buffer, base: number) => Buffer.concat([header, Buffer.from('tail'), baseBytes(base)]);

/** The tail's plaintext if it is there, authentic, and starts at `base`; else nothing (stale, torn or absent). */
async function readTail(path: string, key: Buffer, header: Buffer, base: number): Promise<Buffer> {
  const sealed = await readFile(path).catch(() => undefined);
  if (!sealed || sealed.length < NONCE_BYTES + BASE_BYTES + TAG_BYTES) return Buffer.alloc(0);
  if (sealed.readBigUInt64BE(NONCE_BYTES) !== BigInt(base)) return Buffer.alloc(0);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
    decipher.setAAD(tailAad(header, base));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plaintext = Buffer.concat([
      decipher.update(sealed.subarray(NONCE_BYTES + BASE_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return plaintext.length < DEFAULT_SEGMENT_BYTES ? plaintext : Buffer.alloc(0);
  } catch {
    return Buffer.alloc(0);
  }
}
