import type { MediaRecord } from '../db/media.repository.js';

/** The Media object of docs/api.md. */
export interface MediaView {
  id: string;
  ownerId: string;
  type: string;
  status: string;
  /** Only when status is failed: a code of the error table. */
  failureReason?: string;
  mimeType: string;
  originalMimeType: string;
  originalName: string;
  originalSize: number;
  size: number;
  sha256: string;
  metadata: Record<string, unknown>;
  previews: { size: number; width: number; height: number; mimeType: string }[];
  createdAt: string;
  /** Disappearing media: when it stops being readable; null when it does not expire. */
  expiresAt: string | null;
  /** Only when a blocklist entry quarantined it (only admins and moderators can see such media). */
  quarantined?: true;
}

export function toMediaView(media: MediaRecord): MediaView {
  return {
    id: media.id,
    ownerId: media.ownerId,
    type: media.type,
    status: media.status,
    ...(media.status === 'failed' && media.failureReason ? { failureReason: media.failureReason } : {}),
    mimeType: media.mimeType,
    originalMimeType: media.originalMimeType,
    originalName: media.originalName,
    originalSize: Number(media.originalSize),
    size: Number(media.size),
    sha256: media.sha256,
    metadata: (media.metadata ?? {}) as Record<string, unknown>,
    previews: media.previews.map((p) => ({ size: p.size, width: p.width, height: p.height, mimeType: p.mimeType })),
    createdAt: media.createdAt.toISOString(),
    expiresAt: media.expiresAt?.toISOString() ?? null,
    // MediaService.visible hides quarantined media from everyone but admins and moderators.
    ...(media.quarantinedBy ? { quarantined: true as const } : {}),
  };
}
