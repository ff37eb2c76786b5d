import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, type Reply } from '../support/http';
import { MediaGrpcClient, status } from '../support/media-grpc';
import { picture } from '../support/pictures';
import { waitFor } from '../support/wait';

/** Every blob file under the app's local storage. */
const blobFiles = (t: TestApp) =>
  readdirSync(join(t.dataDir, 'storage'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));

/**
 * A conversation of three users, through the REST API and the gRPC API: alice sends a photo
 * and a PDF to bob and carol; dave is not in it; erin gets the photo forwarded by bob.
 */
describe('sharing a photo and a PDF in a conversation', () => {
  let t: TestApp;
  let grpc: MediaGrpcClient;
  const tokens: Record<string, string> = {};
  let photo: string;
  let pdf: string;
  let photoBytes: Buffer;

  const read = (path: string, user?: string, init: RequestInit = {}) =>
    request(`${t.url}${path}`, { ...init, token: user ? tokens[user] : undefined });
  /** The three reads a chat makes of a media, as `user`: its statuses. */
  const reads = async (id: string, user: string) =>
    Promise.all([
      read(`/api/v1/media/${id}`, user),
      read(`/api/v1/media/${id}/metadata`, user),
      read(`/api/v1/media/${id}/preview?size=256`, user),
    ]).then((replies) => replies.map((r) => r.status));
  const signedUrl = async (id: string, user: string, variant: string, expiresIn = 600): Promise<Reply> =>
    read(`/api/v1/media/${id}/signed-url`, user, {
      method: 'POST',
      body: JSON.stringify({ expiresIn, variant }),
      headers: { 'Content-Type': 'application/json' },
    });

  beforeAll(async () => {
    t = await startTestApp({ grpc: true });
    grpc = new MediaGrpcClient(t.grpcAddress!);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) tokens[user] = await t.token(user);
    photoBytes = await picture(7, 640, 480);
    const sentPhoto = await upload(t.url, tokens.alice, { name: 'beach.png', bytes: photoBytes });
    const sentPdf = await upload(t.url, tokens.alice, { name: 'tables.pdf', bytes: fixture('pdf-tables-gofpdf.pdf') });
    expect([sentPhoto.status, sentPdf.status]).toEqual([201, 201]);
    photo = sentPhoto.json.id;
    pdf = sentPdf.json.id;
  });
  afterAll(async () => {
    grpc?.close();
    await t?.close();
  });

  it('before any grant, only alice reads them: bob and dave get 404, as for a media that does not exist', async () => {
    expect(await reads(photo, 'alice')).toEqual([200, 200, 200]);
    expect(await reads(photo, 'bob')).toEqual([404, 404, 404]);
    const missing = await read('/api/v1/media/00000000-0000-4000-8000-000000000000', 'bob');
    const hidden = await read(`/api/v1/media/${photo}`, 'bob');
    expect(hidden.json.message).toBe(missing.json.message);
  });

  it('GrantAccess lets bob and carol read originals, metadata and previews with their own tokens; dave still gets 404', async () => {
    const granted = await grpc.call(
      'GrantAccess',
      { acting_user_id: 'alice', media_ids: [photo, pdf], conversation_id: 'conv-1', user_ids: ['bob', 'carol'] },
      { requestId: 'grant-1' },
    );
    expect(granted.response).toEqual({ granted: 4 });
    expect(granted.metadata?.get('x-request-id')).toEqual(['grant-1']);
    // Idempotent: the same grant again changes nothing and succeeds.
    expect(
      await grpc.ok('GrantAccess', {
        acting_user_id: 'alice',
        media_ids: [photo, pdf],
        conversation_id: 'conv-1',
        user_ids: ['bob', 'carol'],
      }),
    ).toEqual({ granted: 0 });
    for (const user of ['bob', 'carol']) {
      expect(await reads(photo, user)).toEqual([200, 200, 200]);
      expect(await reads(pdf, user)).toEqual([200, 200, 200]);
    }
    const original = await read(`/api/v1/media/${photo}`, 'bob');
    const meta = await sharp(original.body).metadata();
    expect({ width: meta.width, height: meta.height }).toEqual({ width: 640, height: 480 });
    const pdfBack = await read(`/api/v1/media/${pdf}`, 'carol');
    expect(pdfBack.body.subarray(0, 5).toString()).toBe('%PDF-');
    expect(await reads(photo, 'dave')).toEqual([404, 404, 404]);
    expect(await reads(pdf, 'dave')).toEqual([404, 404, 404]);
  });

  it('GetMedia answers, for each acting user, only the media they may read', async () => {
    const forBob = await grpc.ok('GetMedia', {
      acting_user_id: 'bob',
      media_ids: [photo, pdf, '00000000-0000-4000-8000-000000000000'],
    });
    expect(forBob.media.map((m: { id: string }) => m.id)).toEqual([photo, pdf]);
    const wirePhoto = forBob.media[0];
    expect(wirePhoto).toMatchObject({ owner_id: 'alice', type: 'image', status: 'ready', expires_at: '' });
    expect(JSON.parse(wirePhoto.metadata_json)).toMatchObject({ width: 640, height: 480 });
    expect(wirePhoto.previews.map((p: { size: number }) => p.size)).toEqual([64, 256, 512]);
    expect(await grpc.ok('GetMedia', { acting_user_id: 'dave', media_ids: [photo, pdf] })).toEqual({ media: [] });
  });

  it('signed URLs work without a token, with Range, HEAD and If-None-Match; bound to their media and variant', async () => {
    const minted = await signedUrl(photo, 'bob', 'original');
    expect(minted.status).toBe(201);
    expect(minted.json.url).toMatch(new RegExp(`^/api/v1/media/${photo}\\?token=`));
    expect(Date.parse(minted.json.expiresAt) - Date.now()).toBeGreaterThan(500_000);
    const whole = await read(minted.json.url);
    expect(whole.status).toBe(200);
    expect((await sharp(whole.body).metadata()).width).toBe(640);
    const part = await read(minted.json.url, undefined, { headers: { Range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.body.length).toBe(100);
    const head = await read(minted.json.url, undefined, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(whole.body.length));
    const again = await read(minted.json.url, undefined, { headers: { 'If-None-Match': whole.headers.get('etag')! } });
    expect(again.status).toBe(304);

    const preview = await signedUrl(pdf, 'carol', 'preview-512');
    expect(preview.json.url).toMatch(new RegExp(`^/api/v1/media/${pdf}/preview\\?size=512&token=`));
    const page = await read(preview.json.url);
    expect(page.status).toBe(200);
    expect((await sharp(page.body).metadata()).format).toBe('webp');

    // Another variant, another media, another route, a tampered or malformed token: 401.
    const token = new URL(minted.json.url, t.url).searchParams.get('token')!;
    expect((await read(`/api/v1/media/${photo}/preview?size=512&token=${token}`)).status).toBe(401);
    expect((await read(`/api/v1/media/${pdf}?token=${token}`)).status).toBe(401);
    expect((await read(`/api/v1/media/${photo}/metadata?token=${token}`)).status).toBe(401);
    const [payload, mac] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), e: 4102444800 }),
    ).toString('base64url');
    const tampered = await read(`/api/v1/media/${photo}?token=${forged}.${mac}`);
    expect(tampered.status).toBe(401);
    expect(tampered.json.code).toBe('UNAUTHORIZED');
    expect(JSON.stringify(tampered.json)).not.toContain('alice');
    expect((await read(`/api/v1/media/${photo}?token=garbage`)).status).toBe(401);

    // gRPC mints the same URLs for a reader, and refuses one for dave as for an absent media.
    const viaGrpc = await grpc.ok('CreateSignedUrl', {
      acting_user_id: 'bob',
      media_id: pdf,
      variant: 'original',
      expires_in_seconds: 60,
    });
    expect((await read(viaGrpc.url)).status).toBe(200);
    expect(Date.parse(viaGrpc.expires_at)).toBeGreaterThan(Date.now());
    const forDave = await grpc.call('CreateSignedUrl', {
      acting_user_id: 'dave',
      media_id: pdf,
      variant: 'original',
      expires_in_seconds: 60,
    });
    expect(forDave.error?.code).toBe(status.NOT_FOUND);
    expect((await signedUrl(pdf, 'dave', 'original')).status).toBe(404);
    for (const body of [
      { expiresIn: 0, variant: 'original' },
      { expiresIn: 86401, variant: 'original' },
      { expiresIn: 60, variant: 'preview-128' },
      { expiresIn: 60 },
    ]) {
      const refused = await read(`/api/v1/media/${pdf}/signed-url`, 'bob', {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
      });
      expect([refused.status, refused.json.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  it('a signed URL stops at its expiry', async () => {
    const minted = await signedUrl(photo, 'bob', 'preview-64', 1);
    expect((await read(minted.json.url)).status).toBe(200);
    await waitFor(() => Date.now() > Date.parse(minted.json.expiresAt));
    const expired = await read(minted.json.url);
    expect([expired.status, expired.json.message]).toEqual([401, 'Invalid signed URL: expired']);
  });

  it("forwarding: bob may grant alice's photo into another conversation with erin; dave may not grant it", async () => {
    expect(
      await grpc.ok('GrantAccess', {
        acting_user_id: 'bob',
        media_ids: [photo],
        conversation_id: 'conv-2',
        user_ids: ['erin'],
      }),
    ).toEqual({ granted: 1 });
    expect(await reads(photo, 'erin')).toEqual([200, 200, 200]);
    expect(await reads(pdf, 'erin')).toEqual([404, 404, 404]);
    const byDave = await grpc.call('GrantAccess', {
      acting_user_id: 'dave',
      media_ids: [photo],
      conversation_id: 'conv-3',
      user_ids: ['dave'],
    });
    expect(byDave.error?.code).toBe(status.NOT_FOUND);
    // One media dave cannot read spoils the whole grant: nothing is granted.
    const mixed = await grpc.call('GrantAccess', {
      acting_user_id: 'erin',
      media_ids: [photo, pdf],
      conversation_id: 'conv-3',
      user_ids: ['dave'],
    });
    expect(mixed.error?.code).toBe(status.NOT_FOUND);
    expect(await reads(photo, 'dave')).toEqual([404, 404, 404]);
  });

  it('revoking carol from the conversation stops her reads and her signed URLs at once; bob and erin still read', async () => {
    const carolsUrl = (await signedUrl(photo, 'carol', 'original')).json.url;
    expect((await read(carolsUrl)).status).toBe(200);
    expect(await grpc.ok('RevokeAccess', { conversation_id: 'conv-1', user_ids: ['carol'], media_ids: [] })).toEqual({
      revoked: 2,
    });
    expect(await reads(photo, 'carol')).toEqual([404, 404, 404]);
    expect(await reads(pdf, 'carol')).toEqual([404, 404, 404]);
    expect((await read(carolsUrl)).status).toBe(404);
    expect(await reads(photo, 'bob')).toEqual([200, 200, 200]);
    expect(await reads(photo, 'erin')).toEqual([200, 200, 200]);
    // Idempotent.
    expect(await grpc.ok('RevokeAccess', { conversation_id: 'conv-1', user_ids: ['carol'], media_ids: [] })).toEqual({
      revoked: 0,
    });
  });

  it('only the owner deletes: a grantee gets 403 (REST) and PERMISSION_DENIED (gRPC), and the media stays', async () => {
    const rest = await read(`/api/v1/media/${pdf}`, 'bob', { method: 'DELETE' });
    expect([rest.status, rest.json.code]).toEqual([403, 'FORBIDDEN']);
    const rpc = await grpc.call('DeleteMedia', { acting_user_id: 'bob', media_id: pdf });
    expect(rpc.error?.code).toBe(status.PERMISSION_DENIED);
    const byDave = await grpc.call('DeleteMedia', { acting_user_id: 'dave', media_id: pdf });
    expect(byDave.error?.code).toBe(status.NOT_FOUND);
    expect(await reads(pdf, 'alice')).toEqual([200, 200, 200]);
  });

  it('alice deletes the photo for everyone: 404 for all, signed URLs dead, quota freed, no blob left after the job', async () => {
    const bobsUrl = (await signedUrl(photo, 'bob', 'preview-256')).json.url;
    const before = (await read('/api/v1/media/storage', 'alice')).json;
    const blobsBefore = blobFiles(t).length;
    const deleted = await grpc.call(
      'DeleteMedia',
      { acting_user_id: 'alice', media_id: photo },
      { requestId: 'delete-1' },
    );
    expect(deleted.error).toBeUndefined();
    expect(deleted.metadata?.get('x-request-id')).toEqual(['delete-1']);
    for (const user of ['alice', 'bob', 'erin']) expect(await reads(photo, user)).toEqual([404, 404, 404]);
    expect((await read(bobsUrl)).status).toBe(404);
    const after = (await read('/api/v1/media/storage', 'alice')).json;
    expect(after.fileCount).toBe(before.fileCount - 1);
    expect(after.usedBytes).toBeLessThan(before.usedBytes);
    // The original and its three previews leave storage (the job runs on this process: MEDIA_ROLE all).
    await waitFor(() => blobFiles(t).length === blobsBefore - 4, 60_000);
    // Idempotent for its owner; still NOT_FOUND for anyone else.
    expect((await grpc.call('DeleteMedia', { acting_user_id: 'alice', media_id: photo })).error).toBeUndefined();
    expect((await grpc.call('DeleteMedia', { acting_user_id: 'bob', media_id: photo })).error?.code).toBe(
      status.NOT_FOUND,
    );
    expect(await grpc.ok('GetMedia', { acting_user_id: 'bob', media_ids: [photo, pdf] })).toMatchObject({
      media: [{ id: pdf }],
    });
  });

  it('every RPC is counted on /metrics like an HTTP route, by method and status', async () => {
    const metrics = (await read('/metrics')).body.toString();
    for (const line of [
      'method="GrantAccess",code="OK"',
      'method="GrantAccess",code="NOT_FOUND"',
      'method="DeleteMedia",code="PERMISSION_DENIED"',
      'method="GetMedia",code="OK"',
    ]) {
      expect(metrics).toMatch(
        new RegExp(
          `media_grpc_request_duration_seconds_count\\{${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\} [1-9]`,
        ),
      );
    }
  });

  it('bad arguments are INVALID_ARGUMENT, with the request id back in the trailers', async () => {
    const cases: [string, object][] = [
      ['GrantAccess', { acting_user_id: 'alice', media_ids: ['not-a-uuid'], conversation_id: 'c', user_ids: ['bob'] }],
      ['GrantAccess', { acting_user_id: 'alice', media_ids: [pdf], conversation_id: '', user_ids: ['bob'] }],
      ['GrantAccess', { acting_user_id: 'alice', media_ids: [pdf], conversation_id: 'c', user_ids: [] }],
      ['GrantAccess', { acting_user_id: 'al ice', media_ids: [pdf], conversation_id: 'c', user_ids: ['bob'] }],
      ['RevokeAccess', { conversation_id: '', user_ids: [], media_ids: [] }],
      ['GetMedia', { acting_user_id: '', media_ids: [pdf] }],
      ['CreateSignedUrl', { acting_user_id: 'alice', media_id: pdf, variant: 'thumbnail', expires_in_seconds: 60 }],
      ['CreateSignedUrl', { acting_user_id: 'alice', media_id: pdf, variant: 'original', expires_in_seconds: 0 }],
      ['SetExpiry', { acting_user_id: 'alice', media_id: pdf, expires_at: 'tomorrow' }],
      ['DeleteUserMedia', { user_id: '' }],
    ];
    for (const [method, request] of cases) {
      const outcome = await grpc.call(method, request, { requestId: `bad-${method}` });
      expect([method, outcome.error?.code]).toEqual([method, status.INVALID_ARGUMENT]);
      expect(outcome.error?.metadata.get('x-request-id')).toEqual([`bad-${method}`]);
      expect(outcome.error?.metadata.get('media-error-code')).toEqual(['VALIDATION_FAILED']);
    }
  });
});

describe('the gRPC API with GRPC_API_TOKEN', () => {
  let t: TestApp;
  afterAll(async () => t?.close());

  it('refuses calls without the bearer token (UNAUTHENTICATED) and serves those with it', async () => {
    t = await startTestApp({ grpc: true, env: { GRPC_API_TOKEN: 'messaging-to-media-0123456789' } });
    const anonymous = new MediaGrpcClient(t.grpcAddress!);
    const wrong = new MediaGrpcClient(t.grpcAddress!, 'messaging-to-media-9876543210');
    const right = new MediaGrpcClient(t.grpcAddress!, 'messaging-to-media-0123456789');
    try {
      const request = { acting_user_id: 'alice', media_ids: [] };
      expect((await anonymous.call('GetMedia', request)).error?.code).toBe(status.UNAUTHENTICATED);
      expect((await wrong.call('GetMedia', request)).error?.code).toBe(status.UNAUTHENTICATED);
      expect((await right.call('GetMedia', request)).response).toEqual({ media: [] });
    } finally {
      for (const client of [anonymous, wrong, right]) client.close();
    }
  });
});
