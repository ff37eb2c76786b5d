import { startTestApp, type TestApp } from '../support/app';
import { AuthServer } from '../support/auth-server';
import { query } from '../support/database';
import { request, upload } from '../support/http';
import { MediaGrpcClient, status } from '../support/media-grpc';
import { picture } from '../support/pictures';
import { UserServer } from '../support/user-server';
import { waitFor } from '../support/wait';

describe('auth-service (AUTH_GRPC_URL) in the service', () => {
  let auth: AuthServer;
  let t: TestApp;
  beforeAll(async () => {
    auth = await AuthServer.start();
    t = await startTestApp({ grpc: true, env: { AUTH_GRPC_URL: auth.url } });
  });
  afterAll(async () => {
    await t?.close();
    await auth?.close();
  });

  it('a token must also pass ValidateToken: cached briefly, refused when auth-service says invalid, 503 (never an accept) when it is down', async () => {
    const alice = await t.token('alice');
    auth.tokens.set(alice, { userId: 'alice' });
    expect((await request(`${t.url}/api/v1/media/storage`, { token: alice })).status).toBe(200);
    const asked = auth.validations.length;
    expect((await request(`${t.url}/api/v1/media/storage`, { token: alice })).status).toBe(200);
    expect(auth.validations.length).toBe(asked); // from the cache

    const revoked = await t.token('alice', { ttl: 1800 }); // signed by us, unknown to auth-service (a revoked session)
    const refused = await request(`${t.url}/api/v1/media/storage`, { token: revoked });
    expect([refused.status, refused.json.code]).toEqual([401, 'UNAUTHORIZED']);
    const mallory = await t.token('mallory');
    auth.tokens.set(mallory, { userId: 'alice' }); // auth-service issued it for someone else
    expect((await request(`${t.url}/api/v1/media/storage`, { token: mallory })).status).toBe(401);

    await auth.stop();
    const bob = await t.token('bob', { ttl: 1200 });
    auth.tokens.set(bob, { userId: 'bob' });
    const down = await request(`${t.url}/api/v1/media/storage`, { token: bob });
    expect([down.status, down.json.code]).toEqual([503, 'DEPENDENCY_UNAVAILABLE']);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    await auth.start();
    await waitFor(async () => (await request(`${t.url}/api/v1/media/storage`, { token: bob })).status === 200, 60_000);
  });

  it('readiness reports auth-service, down while its breaker is open, and up again once it may be tried', async () => {
    const ready = await request(`${t.url}/health/ready`);
    expect([ready.status, ready.json.info['auth-service']]).toEqual([200, { status: 'up', breaker: 'closed' }]);
    await auth.stop();
    let n = 0;
    await waitFor(async () => {
      await request(`${t.url}/api/v1/media/storage`, { token: await t.token(`someone-${n++}`) }); // each a fresh token: a call to auth-service
      return (await request(`${t.url}/health/ready`)).status === 503;
    }, 60_000);
    expect((await request(`${t.url}/health/ready`)).json.error).toEqual({
      'auth-service': { status: 'down', breaker: 'open' },
    });
    await auth.start();
    await waitFor(async () => (await request(`${t.url}/health/ready`)).status === 200, 60_000);
  });

  it('a gRPC DeleteMedia by an acting user auth-service names admin deletes any media; by a plain user, only their own', async () => {
    const carol = await t.token('carol');
    auth.tokens.set(carol, { userId: 'carol' });
    const id = (await upload(t.url, carol, { name: 'c.png', bytes: await picture(60) })).json.id;
    auth.users.set('dave', { roles: [] });
    auth.users.set('root', { roles: ['admin'] });
    const grpc = new MediaGrpcClient(t.grpcAddress!);
    try {
      expect((await grpc.call('DeleteMedia', { acting_user_id: 'dave', media_id: id })).error?.code).toBe(
        status.NOT_FOUND,
      );
      expect((await grpc.call('DeleteMedia', { acting_user_id: 'root', media_id: id })).error).toBeUndefined();
      expect((await request(`${t.url}/api/v1/media/${id}`, { token: carol })).status).toBe(404);
    } finally {
      grpc.close();
    }
  });
});

describe('user-service (USER_GRPC_URL) in the service', () => {
  let users: UserServer;
  let t: TestApp;
  beforeAll(async () => {
    users = await UserServer.start();
    t = await startTestApp({ grpc: true, env: { USER_GRPC_URL: users.url, QUOTA_DAILY_UPLOADS: '1000' } });
  });
  afterAll(async () => {
    await t?.close();
    await users?.close();
  });

  /** What this service has stored for the user, as user-service should converge to. */
  const stored = async (userId: string) => {
    const [row] = await query<{ used_bytes: string; file_count: number }>(
      t.databaseUrl,
      'SELECT used_bytes::text, file_count FROM usage WHERE owner_id = $1',
      [userId],
    );
    return { bytes: Number(row?.used_bytes ?? 0), files: row?.file_count ?? 0 };
  };

  it('per-user limits come from GetUserQuotas: the storage quota refuses over it (507) and Storage shows it', async () => {
    users.quotas.set('small', { storageBytes: 400_000, dailyUploads: 0 });
    const small = await t.token('small');
    const storage = (await request(`${t.url}/api/v1/media/storage`, { token: small })).json;
    expect([storage.limitBytes, storage.dailyUploadLimit]).toEqual([400_000, 1000]); // 0: our default
    const first = await upload(t.url, small, { name: 'a.png', bytes: await picture(61, 160, 120) });
    expect(first.status).toBe(201);
    const big = await upload(t.url, small, { name: 'b.png', bytes: await picture(62, 640, 480) });
    expect([big.status, big.json.code]).toEqual([507, 'QUOTA_EXCEEDED']);
  });

  it('every change of stored bytes reaches user-service through the outbox: down during 20 uploads and deletes, its totals converge once up; a redelivery is not counted twice', async () => {
    const erin = await t.token('erin');
    await users.stop();
    // Down for the uploads: the quota lookup is 503 (never admitted under a made-up limit)...
    const refused = await upload(t.url, erin, { name: 'x.png', bytes: await picture(63) });
    expect([refused.status, refused.json.code]).toEqual([503, 'DEPENDENCY_UNAVAILABLE']);
    await users.start();
    // ...so the quota is looked up (and cached) once it is up again (and the breaker lets a call through); then it goes down for the changes themselves.
    const warm = await picture(64);
    await waitFor(async () => (await upload(t.url, erin, { name: 'warm.png', bytes: warm })).status === 201, 60_000);
    await waitFor(async () => users.usage.get('erin')?.bytes === (await stored('erin')).bytes, 60_000);
    await users.stop();
    const ids: string[] = [];
    for (let seed = 0; seed < 20; seed++) {
      const reply = await upload(t.url, erin, { name: `${seed}.png`, bytes: await picture(100 + seed) });
      expect(reply.status).toBe(201);
      ids.push(reply.json.id);
      if (seed % 3 === 0)
        expect((await request(`${t.url}/api/v1/media/${ids[seed]}`, { method: 'DELETE', token: erin })).status).toBe(
          204,
        );
    }
    const pending = await query<{ n: number }>(
      t.databaseUrl,
      "SELECT count(*)::int AS n FROM usage_outbox WHERE owner_id = 'erin'",
    );
    expect(pending[0].n).toBeGreaterThanOrEqual(27); // 20 uploads and 7 deletes, none delivered
    users.delay(3000, 1); // the first answer after it is back arrives past the 2 s deadline: applied, then sent again
    await users.start();
    const expected = await stored('erin');
    await waitFor(
      async () =>
        users.usage.get('erin')?.bytes === expected.bytes && users.usage.get('erin')?.files === expected.files,
      120_000,
    );
    await waitFor(
      async () => (await query<{ n: number }>(t.databaseUrl, 'SELECT count(*)::int AS n FROM usage_outbox'))[0].n === 0,
      60_000,
    );
    expect(users.usage.get('erin')).toEqual({ bytes: expected.bytes, files: 14 });
    // Every delta id was sent at least once; the one sent twice was applied once.
    const sent = users.deltas.filter((d) => d.userId === 'erin').map((d) => d.deltaId);
    expect(sent.length).toBeGreaterThan(new Set(sent).size);
  });
});
