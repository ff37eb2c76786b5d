import { Injectable } from '@nestjs/common';
import { type Caller, privilegedRoles, USER_ID } from '../access/caller.js';
import { AuthPeer } from '../peers/auth-peer.js';
import { type Variant, VARIANTS } from '../access/signed-url.js';
import { GrantsRepository } from '../db/grants.repository.js';
import { MediaError } from '../errors.js';
import { DeletionService } from '../media/deletion.service.js';
import { MediaService } from '../media/media.service.js';
import { toMediaView } from '../media/media-view.js';
import { UUID } from '../common/uuid.js';

/** The most ids one call may name (media or users): a message carries a few, a conversation a few thousand members at most. */
export const MAX_IDS = 1000;
const CONVERSATION_ID = /^[\x21-\x7e]{1,256}$/;
/** ISO 8601 with a time zone, as SetExpiry's expires_at must be. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** One handler per RPC of proto/media.proto: the request as decoded (snake_case), the response to encode. */
export type RpcHandlers = Record<string, (request: never) => Promise<unknown>>;

interface GrantAccessRequest {
  acting_user_id: string;
  media_ids: string[];
  conversation_id: string;
  user_ids: string[];
}
interface RevokeAccessRequest {
  conversation_id: string;
  user_ids: string[];
  media_ids: string[];
}
interface ActingRequest {
  acting_user_id: string;
  media_id: string;
}

/**
 * The gRPC API's calls (docs/grpc.md), over the same services and the same access policy as
 * REST. The acting user is who the caller (messaging-service, user-service) acts for; it
 * carries no roles, except for DeleteMedia when auth-service names them. Arguments are checked before anything is read: a bad one is
 * INVALID_ARGUMENT, a media the acting user may not read NOT_FOUND.
 */
@Injectable()
export class MediaRpc {
  constructor(
    private readonly media: MediaService,
    private readonly grants: GrantsRepository,
    private readonly deletion: DeletionService,
    private readonly auth: AuthPeer,
  ) {}

  handlers(): RpcHandlers {
    return {
      GrantAccess: (request: GrantAccessRequest) => this.grantAccess(request),
      RevokeAccess: (request: RevokeAccessRequest) => this.revokeAccess(request),
      GetMedia: async (request: { acting_user_id: string; media_ids: string[] }) => {
        const found = await this.media.visibleAmong(
          mediaIds(request.media_ids, 'media_ids'),
          actingUser(request.acting_user_id),
        );
        return { media: found.map(toWireMedia) };
      },
      CreateSignedUrl: async (request: ActingRequest & { variant: string; expires_in_seconds: number }) => {
        if (!VARIANTS.includes(request.variant as Variant))
          throw invalid(`variant must be one of ${VARIANTS.join(', ')}`);
        const minted = await this.media.mintSignedUrl(
          mediaId(request.media_id),
          actingUser(request.acting_user_id),
          request.variant as Variant,
          request.expires_in_seconds,
        );
        return { url: minted.url, expires_at: minted.expiresAt };
      },
      DeleteMedia: async (request: ActingRequest) => {
        await this.media.deleteAgain(
          mediaId(request.media_id),
          await this.withRoles(actingUser(request.acting_user_id)),
        );
        return {};
      },
      SetExpiry: async (request: ActingRequest & { expires_at: string }) => {
        const caller = actingUser(request.acting_user_id);
        const id = mediaId(request.media_id);
        if (!ISO_INSTANT.test(request.expires_at) || Number.isNaN(Date.parse(request.expires_at))) {
          throw invalid('expires_at must be an ISO 8601 instant with a time zone, e.g. 2026-12-31T23:59:59Z');
        }
        const inForce = await this.media.setExpiry(id, caller, new Date(request.expires_at));
        return { expires_at: inForce.toISOString() };
      },
      DeleteUserMedia: async (request: { user_id: string }) => {
        if (!USER_ID.test(request.user_id)) throw invalid('user_id must be 1-128 characters of [A-Za-z0-9_.:@-]');
        return { deleted: await this.deletion.deleteUserMedia(request.user_id) };
      },
    };
  }

  /** Every media named must be readable by the sender (owner, or grantee when forwarding): else NOT_FOUND, and nothing is granted. */
  private async grantAccess(request: GrantAccessRequest): Promise<{ granted: number }> {
    const caller = actingUser(request.acting_user_id);
    const ids = mediaIds(request.media_ids, 'media_ids', 1);
    const users = userIds(request.user_ids, 1);
    const conversationId = conversation(request.conversation_id);
    const readable = await this.media.visibleAmong(ids, caller);
    if (readable.length !== ids.length)
      throw new MediaError('NOT_FOUND', 'A media named does not exist or acting_user_id may not read it');
    return {
      granted: await this.grants.grant({ mediaIds: ids, conversationId, userIds: users, grantedBy: caller.id }),
    };
  }

  /**
   * The acting user with their admin or moderator role, as auth-service's GetUserInfo says
   * (AUTH_GRPC_URL); without auth-service an acting user has no role.
   */
  private async withRoles(caller: Caller): Promise<Caller> {
    const client = this.auth.client;
    if (!client) return caller;
    const info = await client.getUserInfo(caller.id);
    return info.exists && info.active ? { ...caller, roles: privilegedRoles(info.roles) } : caller;
  }

  private async revokeAccess(request: RevokeAccessRequest): Promise<{ revoked: number }> {
    const revocation = {
      conversationId: conversation(request.conversation_id),
      userIds: userIds(request.user_ids, 0),
      mediaIds: mediaIds(request.media_ids, 'media_ids'),
    };
    return { revoked: await this.grants.revoke(revocation) };
  }
}

/** The REST Media object's fields, snake_case; per-type metadata as a JSON string; no expiry: "". */
function toWireMedia(record: Parameters<typeof toMediaView>[0]) {
  const view = toMediaView(record);
  return {
    id: view.id,
    owner_id: view.ownerId,
    type: view.type,
    status: view.status,
    mime_type: view.mimeType,
    size: view.size,
    sha256: view.sha256,
    metadata_json: JSON.stringify(view.metadata),
    previews: view.previews.map((p) => ({ size: p.size, width: p.width, height: p.height, mime_type: p.mimeType })),
    created_at: view.createdAt,
    expires_at: view.expiresAt ?? '',
  };
}

const invalid = (message: string) => new MediaError('VALIDATION_FAILED', message);

function actingUser(id: string): Caller {
  if (!USER_ID.test(id)) throw invalid('acting_user_id must be 1-128 characters of [A-Za-z0-9_.:@-]');
  return { id, roles: [] };
}

function mediaId(id: string): string {
  if (!UUID.test(id)) throw invalid('media_id must be a UUID');
  return id.toLowerCase();
}

/** Distinct, lowercase media ids; at least `min`, at most MAX_IDS. */
function mediaIds(ids: string[], field: string, min = 0): string[] {
  if (ids.length < min || ids.length > MAX_IDS) throw invalid(`${field} must name ${min} to ${MAX_IDS} media`);
  const bad = ids.find((id) => !UUID.test(id));
  if (bad !== undefined) throw invalid(`${field} holds a value that is not a UUID`);
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

function userIds(ids: string[], min: number): string[] {
  if (ids.length < min || ids.length > MAX_IDS) throw invalid(`user_ids must name ${min} to ${MAX_IDS} users`);
  if (!ids.every((id) => USER_ID.test(id)))
    throw invalid('user_ids holds a value that is not a user id (1-128 characters of [A-Za-z0-9_.:@-])');
  return [...new Set(ids)];
}

function conversation(id: string): string {
  if (!CONVERSATION_ID.test(id))
    throw invalid('conversation_id must be 1-256 printable ASCII characters without spaces');
  return id;
}
