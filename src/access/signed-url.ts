import { createHmac, timingSafeEqual } from 'node:crypto';
import { MediaError } from '../errors.js';

/** What a signed URL opens: the stored file, or one preview size. */
export const VARIANTS = ['original', 'preview-64', 'preview-256', 'preview-512'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The longest a signed URL may live (docs/api.md, "Signed URLs"). */
export const MAX_SIGNED_URL_SECONDS = 86_400;

/** What a valid token grants: one variant of one media, read as the user who minted it, until it expires. */
export interface SignedGrant {
  mediaId: string;
  variant: Variant;
  /** The minting user, and their privileged roles: every use is checked as them. */
  userId: string;
  roles: string[];
  /** Unix seconds. */
  expiresAt: number;
}

export interface HmacKey {
  id: string;
  key: Buffer;
}

/** Tokens are short: anything longer is not one of ours, refused before any work. */
const MAX_TOKEN_LENGTH = 1024;
/** Binds the MAC to this use, so a key shared by mistake with another purpose cannot forge tokens. */
const DOMAIN = 'whispr-media-signed-url.v1.';

/**
 * Signed URL tokens: `<payload>.<mac>`, both base64url; the payload is JSON naming the key
 * that signed it. HMAC-SHA-256 with SIGNED_URL_KEYS: the first key signs, every key
 * verifies, so keys rotate by prepending a new one and dropping the old one after the
 * longest URL lifetime (24 h). A token says nothing a holder could not already learn by
 * using it; the minting user's id is in it, the owner's only when the owner minted it.
 */
export class SignedUrls {
  constructor(private keys: HmacKey[]) {
    this.reload(keys);
  }

  /** New keys while the service serves: the first signs, all verify (rotation). */
  reload(keys: HmacKey[]): void {
    if (keys.length === 0) throw new Error('SignedUrls needs at least one key');
    this.keys = keys;
  }

  /** The path of the URL (docs/api.md: `/api/v1/media/{id}?token=…`, or `/preview?size=N&token=…`). */
  mint(grant: SignedGrant): string {
    const [signer] = this.keys;
    const payload = Buffer.from(
      JSON.stringify({
        k: signer.id,
        m: grant.mediaId,
        v: grant.variant,
        u: grant.userId,
        r: grant.roles,
        e: grant.expiresAt,
      }),
    ).toString('base64url');
    const token = `${payload}.${mac(signer.key, payload)}`;
    const base = `/api/v1/media/${grant.mediaId}`;
    return grant.variant === 'original'
      ? `${base}?token=${token}`
      : `${base}/preview?size=${grant.variant.slice('preview-'.length)}&token=${token}`;
  }

  /** The grant of a well-formed, untampered, unexpired token; anything else is 401. */
  verify(token: string, now = Date.now()): SignedGrant {
    const refused = (why: string) => new MediaError('UNAUTHORIZED', `Invalid signed URL: ${why}`);
    if (token.length > MAX_TOKEN_LENGTH) throw refused('malformed');
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) throw refused('malformed');
    let claims: { k?: unknown; m?: unknown; v?: unknown; u?: unknown; r?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw refused('malformed');
    }
    const key = this.keys.find((k) => k.id === claims?.k);
    const expected = key && Buffer.from(mac(key.key, payload), 'base64url');
    const given = Buffer.from(signature, 'base64url');
    if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected))
      throw refused('bad signature');
    const { m, v, u, r, e } = claims;
    if (
      typeof m !== 'string' ||
      typeof u !== 'string' ||
      typeof e !== 'number' ||
      !VARIANTS.includes(v as Variant) ||
      !isStringArray(r)
    ) {
      throw refused('malformed');
    }
    if (e * 1000 <= now) throw refused('expired');
    return { mediaId: m, variant: v as Variant, userId: u, roles: r, expiresAt: e };
  }
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(DOMAIN).update(payload).digest('base64url');
}

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');
