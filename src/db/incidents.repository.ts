import { Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client.js';
import { PrismaService } from './prisma.service.js';

export type IncidentKind = 'blocklist' | 'moderation' | 'malware' | 'corrupt' | 'review';

/** One refused upload, or one accepted unmoderated for review. Never any of the content. */
export interface NewIncident {
  ownerId: string;
  kind: IncidentKind | string;
  /** The error code answered, e.g. CONTENT_REJECTED. */
  code: string;
  reason: string;
  /** Of the uploaded bytes. */
  sha256?: string;
  md5?: string;
  /** Unsigned 64-bit pHashes. */
  phashes?: bigint[];
  requestId?: string;
  details?: Record<string, unknown>;
}

/** The incident log of moderation: who uploaded what was refused, when, and why. */
@Injectable()
export class IncidentsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Inserts the incident; answers its id. */
  async record(incident: NewIncident): Promise<string> {
    const { id } = await this.prisma.incident.create({
      data: {
        ownerId: incident.ownerId,
        kind: incident.kind,
        code: incident.code,
        reason: incident.reason,
        sha256: incident.sha256 ?? null,
        md5: incident.md5 ?? null,
        // The column holds the same 64 bits as a signed BIGINT.
        phashes: (incident.phashes ?? []).map((hash) => BigInt.asIntN(64, hash)),
        requestId: incident.requestId ?? null,
        details: (incident.details ?? {}) as Prisma.InputJsonObject,
      },
      select: { id: true },
    });
    return id;
  }
}
