import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FreshDataKey } from '../crypto/data-key.service.js';
import type { ProcessResult } from '../processing/processor.js';
import type { EncryptedBlobs } from './encrypted-blobs.js';
import type { Received } from './received.js';

/** What an upload stores: its version and previews, described, hashed and put into storage (upload.service.ts). */

/** A file moved into storage: where, under which key, and what it is. */
export interface StoredFile {
  blobKey: string;
  dataKey: FreshDataKey;
  size: number;
  sha256: string;
  md5: string;
  mime: string;
}

export interface StoredPreview {
  size: number;
  width: number;
  height: number;
  bytes: number;
  blobKey: string;
  dataKey: FreshDataKey;
}

export interface StoredVersions {
  version: StoredFile;
  previews: StoredPreview[];
}

/** The stored version's size, digests and type, known before anything is stored (screening needs them). */
export type DescribedVersion = Pick<StoredFile, 'size' | 'sha256' | 'md5' | 'mime'>;

/**
 * Moves the stored version (the processed one, or the sealed upload itself) and the
 * previews into storage, each under a data key of its own. Every key written is added to
 * `written` as soon as it exists, so a failure anywhere leaves nothing behind.
 */
export async function storeVersions(
  blobs: EncryptedBlobs,
  ownerId: string,
  file: Received,
  processed: ProcessResult,
  described: DescribedVersion,
  written: string[],
): Promise<StoredVersions> {
  const sealBuffer = (data: Buffer) => blobs.storeSealed(ownerId, file.format.type, data, written);
  const main = async (): Promise<StoredFile> => {
    const { stored } = processed;
    if (!stored) {
      const blobKey = await blobs.storeFile(file.path, file.format.type, written);
      return {
        blobKey,
        dataKey: file.dataKey,
        size: file.size,
        sha256: file.sha256,
        md5: file.md5,
        mime: file.format.mime,
      };
    }
    // Streamed from its file (a transcoded video is never whole in memory); its digests are `described`'s, taken for screening.
    const { blobKey, dataKey } = await blobs.storeSealed(
      ownerId,
      file.format.type,
      createReadStream(stored.path),
      written,
    );
    return { blobKey, dataKey, ...described };
  };
  const previews = processed.previews.map(async ({ data, ...preview }) => ({
    ...preview,
    bytes: data.length,
    ...(await sealBuffer(data)),
  }));
  const [version, stored] = (await settleAll<unknown>([main(), settleAll(previews)])) as [StoredFile, StoredPreview[]];
  return { version, previews: stored };
}

/** The stored version's size, digests and type, known before anything is stored (screening needs them); the rendition's file is read as a stream. */
export async function describeVersion(
  blobs: EncryptedBlobs,
  file: Received,
  processed: ProcessResult,
): Promise<DescribedVersion> {
  const { stored } = processed;
  if (!stored) return { size: file.size, sha256: file.sha256, md5: file.md5, mime: file.format.mime };
  const hasher = blobs.hasher();
  await pipeline(createReadStream(stored.path), hasher, new Writable({ write: (_chunk, _encoding, done) => done() }));
  return { size: hasher.bytes, sha256: hasher.digest('sha256'), md5: hasher.digest('md5'), mime: stored.mime };
}

/** Waits for every promise, then throws the first failure: nothing is left running behind an error. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const outcomes = await Promise.allSettled(promises);
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<T>).value);
}
