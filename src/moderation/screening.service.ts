import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { IncidentsRepository } from '../db/incidents.repository.js';
import { isMediaError, MediaError, type ErrorCode } from '../errors.js';
import type { MediaType } from '../detection/media-types.js';
import { type ModerationClient, ModerationUnavailableError } from '../peers/moderation.client.js';
import { ModerationPeer } from '../peers/moderation-peer.js';
import { AntivirusService, MalwareFound } from './antivirus.service.js';
import { BlocklistService, type BlockMatch } from './blocklist.service.js';
import { toHex } from './phash.js';

/** Who uploads, for the incident record and the peer. */
export interface UploadContext {
  ownerId: string;
  requestId?: string;
}

/** The version about to be stored, with every hash of it and of the upload. */
export interface VersionToScreen extends UploadContext {
  type: MediaType;
  mimeType: string;
  originalSize: number;
  storedSize: number;
  sha256: string;
  md5: string;
  storedSha256: string;
  storedMd5: string;
  phashes: bigint[];
  signal: AbortSignal;
}

/** Rejections kept as incidents, by the error code answered. */
const INCIDENT_KINDS: Partial<Record<ErrorCode, string>> = {
  CORRUPT_FILE: 'corrupt',
  MALWARE_DETECTED: 'malware',
  CONTENT_REJECTED: 'moderation',
};

/**
 * The content-safety stages of an upload, in the design's order, all before anything is
 * stored: `screenUpload` (the uploaded bytes: exact blocklist, antivirus) runs before any
 * decoder sees the file; `screenVersion` (what would be stored: every exact hash and the
 * perceptual hashes against the blocklist, then moderation-service) runs after processing.
 * A refusal is a 422 recorded as an incident (user, hashes, reason, request id, never the
 * content). moderation-service failing never approves: 503 in `closed` mode, accepted and
 * marked for review (and recorded) in `open` mode.
 */
@Injectable()
export class ScreeningService {
  private readonly log = new Logger('Screening');
  private readonly peer?: ModerationClient;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly antivirus: AntivirusService,
    private readonly blocklist: BlocklistService,
    private readonly incidents: IncidentsRepository,
    moderation: ModerationPeer,
  ) {
    this.peer = moderation.client;
  }

  /** Before decoding: the upload's own digests against the blocklist, then the antivirus. */
  async screenUpload(
    upload: UploadContext & { sha256: string; md5: string; open(): Promise<Readable>; signal: AbortSignal },
  ): Promise<void> {
    await this.blocklist.whenReady();
    this.refuseMatch(this.blocklist.match({ sha256: [upload.sha256], md5: [upload.md5], phashes: [] }));
    await this.antivirus.scan(upload.open, upload.signal);
  }

  /** Before storage: everything known of the version against the blocklist, then moderation-service. Answers a review reason in open mode. */
  async screenVersion(version: VersionToScreen): Promise<{ reviewReason?: string }> {
    await this.blocklist.whenReady();
    const { sha256, md5, storedSha256, storedMd5, phashes } = version;
    this.refuseMatch(this.blocklist.match({ sha256: [sha256, storedSha256], md5: [md5, storedMd5], phashes }));
    if (!this.peer) return {};
    try {
      const decision = await this.peer.checkMediaContent(
        {
          mediaId: '',
          ownerId: version.ownerId,
          mediaType: version.type,
          mimeType: version.mimeType,
          originalSize: version.originalSize,
          storedSize: version.storedSize,
          sha256,
          md5,
          storedSha256,
          storedMd5,
          phashes: phashes.map(toHex),
          requestId: version.requestId ?? '',
        },
        { signal: version.signal },
      );
      if (decision.decision === 'approved') return {};
      if (decision.block.length > 0) {
        await this.blocklist.add({
          hashes: decision.block,
          reason: decision.reason || 'moderation-service',
          source: 'moderation-service',
        });
      }
      throw new ContentRejected(decision.reason || 'rejected by moderation-service', 'moderation');
    } catch (error) {
      if (!(error instanceof ModerationUnavailableError) || this.config.moderationFailureMode === 'closed') throw error;
      const reason = `moderation-service unavailable: ${error.message}`;
      this.log.warn(`accepting an upload of ${version.ownerId} unmoderated (MODERATION_FAILURE_MODE=open): ${reason}`);
      await this.incidents.record({
        ownerId: version.ownerId,
        kind: 'review',
        code: 'DEPENDENCY_UNAVAILABLE',
        reason,
        sha256,
        md5,
        phashes,
        requestId: version.requestId,
      });
      return { reviewReason: reason };
    }
  }

  /** Records a refused upload as an incident and counts it; other errors are not incidents. Never throws. */
  async recordRejection(
    error: unknown,
    upload: UploadContext & { sha256?: string; md5?: string; phashes?: bigint[] },
  ): Promise<void> {
    if (!isMediaError(error)) return;
    const kind = error instanceof ContentRejected ? error.kind : INCIDENT_KINDS[error.code];
    if (!kind) return;
    const details =
      error instanceof MalwareFound
        ? { signature: error.signature }
        : error instanceof ContentRejected
          ? { match: error.detail }
          : {};
    await this.incidents
      .record({
        ownerId: upload.ownerId,
        kind,
        code: error.code,
        reason: error instanceof ContentRejected ? error.reason : error.message,
        sha256: upload.sha256,
        md5: upload.md5,
        phashes: upload.phashes,
        requestId: upload.requestId,
        details,
      })
      .catch((failure: unknown) => this.log.error(`could not record an incident: ${(failure as Error).message}`));
  }

  private refuseMatch(match: BlockMatch | undefined): void {
    if (match)
      throw new ContentRejected(match.reason, 'blocklist', {
        entryId: match.entryId,
        algorithm: match.algorithm,
        hash: match.hash,
        distance: match.distance,
      });
  }
}

/** 422 CONTENT_REJECTED, carrying why (for the incident, not the client). */
export class ContentRejected extends MediaError {
  constructor(
    readonly reason: string,
    readonly kind: 'blocklist' | 'moderation',
    readonly detail: Record<string, unknown> = {},
  ) {
    super('CONTENT_REJECTED');
  }
}
