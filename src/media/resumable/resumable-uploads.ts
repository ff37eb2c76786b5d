import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataStore, ERRORS as TUS_ERRORS, Upload } from '@tus/utils';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { DataKeyService, type FreshDataKey } from '../../crypto/data-key.service.js';
import { RESUMABLE_TAG, UsageRepository } from '../../db/usage.repository.js';
import { candidateTypes, SNIFF_BYTES, sniff } from '../../detection/detect-type.js';
import { MEDIA_TYPES } from '../../detection/media-types.js';
import { isMediaError, MediaError } from '../../errors.js';
import { LIMITER, type Limiter } from '../../limits/limiter.js';
import { largestLimit, tooLargeFor } from '../size-limits.js';
import { Throttle } from '../streams/throttle.js';
import { UploadLedger } from '../upload-ledger.js';
import { type UploadResult, UploadService } from '../upload.service.js';
import { UserLimits } from '../user-limits.js';
import { EncryptedBlobs } from '../encrypted-blobs.js';
import { LiveDigest } from './live-digest.js';
import { ResumableFile } from './resumable-file.js';

/** What a resumable upload keeps beside its sealed file (DATA_DIR/uploads/<id>/info.json): no content. */
interface UploadInfo {
  id: string;
  ownerId: string;
  length: number;
  filename: string;
  expiresInSeconds?: number;
  reservationId: string;
  dataKey: { id: string; masterKeyId: string; wrapped: string };
  createdAt: number;
  /** The last PATCH (or the creation): the upload expires TUS_UPLOAD_EXPIRY_SECONDS after it. */
  touchedAt: number;
  /** Set once complete: the media it became, kept until it expires for GET /media/uploads/{id}. */
  media?: { id: string; status: string };
}

/** Who creates an upload, and what it may take: set by the edge, read when the upload is created. */
export interface Creator {
  ownerId: string;
  filename: string;
  expiresInSeconds?: number;
}

/** A creator admitted: its reservation (the declared length, a daily slot) is taken. */
type Admitted = Creator & { reservationId: string };

const EXPIRY_SWEEP_MS = 60_000;
/** Uploads whose digests this process keeps as they arrive; beyond, the oldest is read again at completion. */
const LIVE_DIGESTS = 256;

/**
 * Resumable uploads (tus 1.0) on the service's own terms: the tus server (@tus/server) speaks
 * the protocol; this store keeps each upload sealed under its own data key (ResumableFile),
 * holds its quota reservation from creation (the declared length, one daily slot) until it
 * completes, is removed, or expires, and hands the complete file to the upload pipeline
 * (UploadService.completeSealed): one pipeline, two edges.
 */
@Injectable()
export class ResumableUploads extends DataStore implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ResumableUploads.name);
  private readonly root: string;
  /** Creators by upload id, between the creation request's admission and the store's create(). */
  private readonly creators = new Map<string, Admitted>();
  /** A PATCH's Upload-Checksum (sha256, base64) by upload id, for the write it comes with. */
  private readonly checksums = new Map<string, string>();
  /** Digests taken as the bytes arrive, by upload id (see LiveDigest). */
  private readonly live = new Map<string, LiveDigest>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly uploads: UploadService,
    private readonly usage: UsageRepository,
    private readonly userLimits: UserLimits,
    private readonly dataKeys: DataKeyService,
    @Inject(LIMITER) private readonly limiter: Limiter,
    private readonly blobs: EncryptedBlobs,
  ) {
    super();
    this.root = join(config.dataDir, 'uploads');
    // `checksum` (sha256) is verified here, per PATCH: @tus/server leaves it to the store.
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum'];
  }

  onApplicationBootstrap(): void {
    if (this.config.role === 'worker') return;
    const sweep = () =>
      void this.deleteExpired().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'expiry sweep of resumable uploads failed'),
      );
    sweep();
    this.timer = setInterval(sweep, EXPIRY_SWEEP_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    // A paused upload's digest holds a stream open on the hash thread, which keeps the process alive: the next PATCH reads the file again.
    for (const id of [...this.live.keys()]) this.forgetDigest(id);
  }

  /** Admits a new upload of `length` bytes by `creator` (the declared size against every limit, the daily slot and the quota). */
  async admit(id: string, creator: Creator, length: number, signal?: AbortSignal): Promise<void> {
    if (length === 0) throw new MediaError('VALIDATION_FAILED', 'The file is empty');
    const [, limit] = largestLimit(this.config.limits.maxBytes, MEDIA_TYPES);
    if (length > limit) throw tooLargeFor(this.config.limits.maxBytes, MEDIA_TYPES);
    const limits = await this.userLimits.of(creator.ownerId, signal);
    const ledger = new UploadLedger(this.usage, creator.ownerId, limits, `${RESUMABLE_TAG}${id}`);
    await ledger.reserve(length);
    // The reservation covers the declared length from now: parallel uploads cannot promise the same room twice.
    if (!(await this.usage.resize(ledger.reservationId, creator.ownerId, length, limits.quotaBytes)).ok) {
      await ledger.release();
      throw new MediaError('QUOTA_EXCEEDED');
    }
    this.creators.set(id, { ...creator, reservationId: ledger.reservationId });
  }

  /** Notes the checksum a PATCH declares (`sha256 <base64>`), checked against its bytes by write(). */
  expectChecksum(id: string, header: string | undefined): void {
    this.checksums.delete(id);
    if (header === undefined) return;
    const [algorithm, digest] = header.split(' ');
    if (algorithm !== 'sha256' || !digest)
      throw new MediaError('VALIDATION_FAILED', 'Upload-Checksum: only sha256 is supported', { status: 400 });
    this.checksums.set(id, digest);
  }

  /** The upload's owner (to tell the creator from anyone else), or undefined when there is none. */
  async ownerOf(id: string): Promise<string | undefined> {
    return (await this.info(id))?.ownerId;
  }

  /** The media a complete upload became (GET /media/uploads/{id}). */
  async mediaOf(id: string): Promise<{ id: string; status: string } | undefined> {
    return (await this.info(id))?.media;
  }

  override async create(upload: Upload): Promise<Upload> {
    const creator = this.creators.get(upload.id);
    this.creators.delete(upload.id);
    if (!creator || upload.size === undefined) throw TUS_ERRORS.INVALID_LENGTH;
    const dir = this.dir(upload.id);
    const now = Date.now();
    try {
      const key = await this.dataKeys.issue(creator.ownerId);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await ResumableFile.create(dir, key, upload.size);
      await this.writeInfo({
        id: upload.id,
        ownerId: creator.ownerId,
        length: upload.size,
        filename: creator.filename,
        expiresInSeconds: creator.expiresInSeconds,
        reservationId: creator.reservationId,
        dataKey: { id: key.id, masterKeyId: key.masterKeyId, wrapped: key.wrapped.toString('base64') },
        createdAt: now,
        touchedAt: now,
      });
    } catch (error) {
      await Promise.all([
        rm(dir, { recursive: true, force: true }),
        this.usage.release(creator.reservationId).catch(() => {}),
      ]);
      throw error;
    }
    upload.creation_date = new Date(now).toISOString();
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const info = await this.info(id);
    if (!info || info.media) throw TUS_ERRORS.FILE_NOT_FOUND;
    const file = await ResumableFile.open(this.dir(id), await this.key(info), info.length);
    // Expiry counts from the last PATCH: @tus/server counts from creation_date.
    return new Upload({
      id,
      size: info.length,
      offset: file.offset,
      metadata: { filename: info.filename },
      creation_date: new Date(info.touchedAt).toISOString(),
    });
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const info = await this.info(id);
    if (!info) throw TUS_ERRORS.FILE_NOT_FOUND;
    const file = await ResumableFile.open(this.dir(id), await this.key(info), info.length);
    if (file.offset !== offset) throw TUS_ERRORS.INVALID_OFFSET;
    const throttled = stream.pipe(new Throttle((bytes) => this.limiter.throttle(info.ownerId, bytes)));
    const expected = this.checksums.get(id);
    this.checksums.delete(id);
    const head = offset < SNIFF_BYTES ? (bytes: Buffer) => this.checkHead(bytes, info.length) : undefined;
    const live = this.liveDigest(id, offset);
    const feed = (source: AsyncIterable<Buffer>) => (live ? live.tap(source) : source);
    let discarded = false;
    try {
      const reached = expected
        ? await this.appendChecked(file, throttled, expected, head, feed)
        : await file.append(feed(throttled), head);
      if (live && live.offset !== reached) this.forgetDigest(id);
      return reached;
    } catch (error) {
      this.forgetDigest(id);
      // The first bytes name no type we take, or one whose limit the declared length exceeds: the upload is over.
      if (isMediaError(error, 'UNSUPPORTED_MEDIA_TYPE') || isMediaError(error, 'FILE_TOO_LARGE')) {
        discarded = true;
        await this.discard(info);
      }
      throw error;
    } finally {
      if (!discarded) await this.touch(info);
    }
  }

  /** A PATCH came: the upload's expiry and its reservation's staleness count from now. */
  private async touch(info: UploadInfo): Promise<void> {
    await this.writeInfo({ ...info, touchedAt: Date.now() });
    await this.usage.touch(info.reservationId).catch(() => {});
  }

  override async remove(id: string): Promise<void> {
    const info = await this.info(id);
    if (!info) throw TUS_ERRORS.FILE_NOT_FOUND;
    await this.discard(info);
  }

  override async declareUploadLength(): Promise<void> {
    throw TUS_ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION;
  }

  override getExpiration(): number {
    return this.config.tusUploadExpiryMs;
  }

  /** Removes uploads untouched for TUS_UPLOAD_EXPIRY_SECONDS (and completed ones' records as long after): files and reservations. */
  override async deleteExpired(): Promise<number> {
    let removed = 0;
    for (const id of await readdir(this.root).catch(() => [] as string[])) {
      const info = await this.info(id);
      const touched = info?.touchedAt ?? (await stat(this.dir(id)).catch(() => undefined))?.mtimeMs ?? 0;
      if (Date.now() - touched < this.config.tusUploadExpiryMs) continue;
      if (info) await this.discard(info);
      else await rm(this.dir(id), { recursive: true, force: true });
      removed++;
    }
    if (removed) this.logger.log(`removed ${removed} expired resumable upload(s)`);
    return removed;
  }

  /**
   * The complete upload through the rest of the pipeline; afterwards only its record stays
   * (for GET /media/uploads/{id}) until it expires. A refusal removes the upload entirely.
   */
  async complete(id: string, requestId: string | undefined, signal: AbortSignal): Promise<UploadResult> {
    const info = await this.info(id);
    if (!info) throw TUS_ERRORS.FILE_NOT_FOUND;
    const dir = this.dir(id);
    const live = this.live.get(id);
    this.live.delete(id);
    const digests =
      live?.offset === info.length ? await live.finish().catch(() => undefined) : (live?.abandon(), undefined);
    try {
      const result = await this.uploads.completeSealed({
        digests,
        ownerId: info.ownerId,
        requestId,
        path: join(dir, 'data'),
        dataKey: await this.key(info),
        size: info.length,
        filename: info.filename,
        reservationId: info.reservationId,
        expiresInSeconds: info.expiresInSeconds,
        signal,
      });
      await rm(join(dir, 'data'), { force: true }); // moved into storage, or a duplicate's
      await this.writeInfo({
        ...info,
        touchedAt: Date.now(),
        media: { id: result.media.id, status: result.media.status },
      });
      return result;
    } catch (error) {
      await rm(dir, { recursive: true, force: true }); // the pipeline has released the reservation
      throw error;
    }
  }

  /** The first bytes name the type: refused at once when it is none we take, or its limit is below the declared length. */
  private async checkHead(head: Buffer, length: number): Promise<void> {
    const types = candidateTypes(await sniff(head));
    const [, limit] = largestLimit(this.config.limits.maxBytes, types);
    if (length > limit) throw tooLargeFor(this.config.limits.maxBytes, types);
  }

  /**
   * A PATCH with Upload-Checksum: its bytes are verified before any is sealed into the file
   * (a segment is sealed once: bytes refused after sealing would have to be sealed again under
   * the same nonce). They wait in memory — a PATCH's body, not an upload (tus clients send
   * checksummed uploads in chunks) — bounded by the upload's length.
   */
  private async appendChecked(
    file: ResumableFile,
    source: Readable,
    expected: string,
    head: ((bytes: Buffer) => Promise<void>) | undefined,
    feed: (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>,
  ): Promise<number> {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    for await (const chunk of source) {
      hash.update(chunk);
      chunks.push(chunk);
    }
    if (hash.digest('base64') !== expected)
      throw new MediaError('VALIDATION_FAILED', 'Upload-Checksum does not match the bytes sent', { status: 460 });
    return file.append(feed(Readable.from(chunks)), head);
  }

  /** The upload's live digest if it has seen exactly `offset` bytes (a new one at 0); else none. */
  private liveDigest(id: string, offset: number): LiveDigest | undefined {
    const live = this.live.get(id);
    if (live?.offset === offset) return live;
    this.forgetDigest(id);
    if (offset !== 0) return undefined;
    if (this.live.size >= LIVE_DIGESTS) this.forgetDigest(this.live.keys().next().value as string);
    const fresh = new LiveDigest(this.blobs.hasher());
    this.live.set(id, fresh);
    return fresh;
  }

  private forgetDigest(id: string): void {
    this.live.get(id)?.abandon();
    this.live.delete(id);
  }

  private async discard(info: UploadInfo): Promise<void> {
    this.forgetDigest(info.id);
    await rm(this.dir(info.id), { recursive: true, force: true });
    if (!info.media) await this.usage.release(info.reservationId);
  }

  private dir(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw TUS_ERRORS.FILE_NOT_FOUND;
    return join(this.root, id);
  }

  private async key(info: UploadInfo): Promise<FreshDataKey> {
    return this.dataKeys.reopen(info.ownerId, {
      ...info.dataKey,
      wrapped: Buffer.from(info.dataKey.wrapped, 'base64'),
    });
  }

  private async info(id: string): Promise<UploadInfo | undefined> {
    const text = await readFile(join(this.dir(id), 'info.json'), 'utf8').catch(() => undefined);
    return text ? (JSON.parse(text) as UploadInfo) : undefined;
  }

  private async writeInfo(info: UploadInfo): Promise<void> {
    const path = join(this.dir(info.id), 'info.json');
    await writeFile(`${path}.new`, JSON.stringify(info), { mode: 0o600 });
    await rename(`${path}.new`, path);
  }
}

/** A new upload id: a UUID, so ids are never guessed and never collide across replicas. */
export const newUploadId = (): string => randomUUID();
