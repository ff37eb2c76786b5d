import http from 'node:http';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { signToken, startTestApp, type TestApp } from '../support/app';
import { request, uploadFixture } from '../support/http';

async function asymmetricToken(privateKey: CryptoKey, alg: string, claims: Record<string, unknown> = {}, kid?: string) {
  return new SignJWT({ roles: [], ...claims })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setSubject('ann')
    .setExpirationTime('1h')
    .sign(privateKey);
}

describe('authentication and the HTTP edge', () => {
  describe('HS256 (AUTH_JWT_SECRET) with issuer and audience', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { AUTH_JWT_ISSUER: 'auth-service', AUTH_JWT_AUDIENCE: 'whispr' } });
    });
    afterAll(() => t.close());

    const good = (sub = 'alice', extra: { iss?: string; aud?: string; exp?: number } = {}) =>
      new SignJWT({ roles: ['user'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer(extra.iss ?? 'auth-service')
        .setAudience(extra.aud ?? 'whispr')
        .setExpirationTime(extra.exp ?? Math.floor(Date.now() / 1000) + 60)
        .sign(new TextEncoder().encode('test-secret-0123456789abcdef-0123456789abcdef'));

    it('accepts a valid token and rejects everything else with 401 UNAUTHORIZED', async () => {
      const storage = `${t.url}/api/v1/media/storage`;
      expect((await request(storage, { token: await good() })).status).toBe(200);
      const bad = [
        undefined,
        'not-a-jwt',
        await good('alice', { iss: 'someone-else' }),
        await good('alice', { aud: 'other-app' }),
        await good('alice', { exp: Math.floor(Date.now() / 1000) - 10 }),
        await good('bad user!'),
        await signToken('alice', [], 60, 'another-secret-0123456789abcdef-0123456789'),
      ];
      for (const token of bad) {
        const reply = await request(storage, { token });
        expect(reply.status).toBe(401);
        expect(reply.json).toEqual({
          statusCode: 401,
          code: 'UNAUTHORIZED',
          message: expect.any(String),
          requestId: expect.any(String),
        });
      }
      const basic = await request(storage, { headers: { Authorization: 'Basic YWxpY2U6eA==' } });
      expect(basic.status).toBe(401);
    });

    it('keeps health, metrics and docs public', async () => {
      const live = await request(`${t.url}/health/live`);
      expect(live.status).toBe(200);
      const ready = await request(`${t.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.json.info).toMatchObject({ database: { status: 'up' }, storage: { status: 'up' } });
      const metrics = await request(`${t.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.body.toString()).toMatch(
        /media_http_request_duration_seconds_bucket\{[^}]*route="\/health\/ready"/,
      );
      await uploadFixture(t.url, await good('metrics-user'), 'gif-animated-throbber.gif');
      const after = (await request(`${t.url}/metrics`)).body.toString();
      expect(after).toMatch(/media_uploads_total\{media_type="image",outcome="created"\} 1/);
      expect(after).toMatch(/media_upload_bytes_total\{media_type="image"\} 2704/);
      expect((await request(`${t.url}/api/docs`)).status).toBe(200);
    });

    it('publishes an OpenAPI 3 document that matches the contract paths', async () => {
      const doc = (await request(`${t.url}/api/docs-json`)).json;
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/media/upload',
          '/api/v1/media/{id}',
          '/api/v1/media/{id}/metadata',
          '/api/v1/media/storage',
          '/health/live',
          '/health/ready',
        ]),
      );
      expect(Object.keys(doc.paths['/api/v1/media/upload'].post.responses)).toEqual(
        expect.arrayContaining(['200', '201', '400', '413', '415', '429', '507']),
      );
      expect(doc.components.schemas.MediaDto.required).toEqual(
        expect.arrayContaining(['id', 'ownerId', 'type', 'status', 'mimeType', 'sha256', 'previews']),
      );
    });

    it('echoes a sane X-Request-Id, generates one otherwise, and answers unknown routes with the error shape', async () => {
      const echoed = await request(`${t.url}/health/live`, { headers: { 'X-Request-Id': 'req-123' } });
      expect(echoed.headers.get('x-request-id')).toBe('req-123');
      const replaced = await request(`${t.url}/health/live`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const missing = await request(`${t.url}/api/v1/nothing-here`, {
        token: await good(),
        headers: { 'X-Request-Id': 'req-404' },
      });
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ statusCode: 404, code: 'NOT_FOUND', message: 'Not found', requestId: 'req-404' });
      const badJson = await request(`${t.url}/api/v1/media/upload`, {
        method: 'POST',
        token: await good(),
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'req-json' },
        body: '{bad json',
      });
      expect(badJson.status).toBe(400);
      expect(badJson.json).toEqual({
        statusCode: 400,
        code: 'VALIDATION_FAILED',
        message: expect.any(String),
        requestId: 'req-json',
      });
      expect(badJson.headers.get('x-request-id')).toBe('req-json');
      const badId = await request(`${t.url}/api/v1/media/not-a-uuid`, { token: await good() });
      expect(badId.status).toBe(400);
      expect(JSON.stringify(badId.json)).not.toMatch(/\/work|node_modules|at .*\.ts/);
    });
  });

  describe('RS256 with AUTH_JWT_PUBLIC_KEY', () => {
    it('verifies tokens signed by the matching private key only', async () => {
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      const other = await generateKeyPair('RS256');
      const t = await startTestApp({ env: { AUTH_JWT_PUBLIC_KEY: await exportSPKI(publicKey) } });
      try {
        const storage = `${t.url}/api/v1/media/storage`;
        expect((await request(storage, { token: await asymmetricToken(privateKey, 'RS256') })).status).toBe(200);
        expect((await request(storage, { token: await asymmetricToken(other.privateKey, 'RS256') })).status).toBe(401);
      } finally {
        await t.close();
      }
    });
  });

  describe('ES256 with AUTH_JWKS_URL and roles', () => {
    it('fetches keys from the JWKS endpoint and lets admin reach any media', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      const jwks = http.createServer((_req, res) =>
        res.setHeader('Content-Type', 'application/json').end(JSON.stringify({ keys: [jwk] })),
      );
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      const { port } = jwks.address() as { port: number };
      const t = await startTestApp({ env: { AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` } });
      try {
        const owner = await new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setSubject('owner')
          .setExpirationTime('1h')
          .sign(privateKey);
        const admin = await asymmetricToken(privateKey, 'ES256', { roles: ['admin'] }, 'k1');
        const moderator = await new SignJWT({ roles: ['moderator'] })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setSubject('mod')
          .setExpirationTime('1h')
          .sign(privateKey);
        const stranger = await new SignJWT({ roles: ['user'] })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setSubject('stranger')
          .setExpirationTime('1h')
          .sign(privateKey);
        const { json } = await uploadFixture(t.url, owner, 'png-rgba-alpha-yellow-rose.png');
        expect(json.ownerId).toBe('owner');
        expect((await request(`${t.url}/api/v1/media/${json.id}/metadata`, { token: stranger })).status).toBe(404);
        expect((await request(`${t.url}/api/v1/media/${json.id}/metadata`, { token: admin })).status).toBe(200);
        expect((await request(`${t.url}/api/v1/media/${json.id}`, { method: 'DELETE', token: moderator })).status).toBe(
          204,
        );
        const forged = await new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setSubject('owner')
          .setExpirationTime('1h')
          .sign((await generateKeyPair('ES256')).privateKey);
        expect((await request(`${t.url}/api/v1/media/storage`, { token: forged })).status).toBe(401);
      } finally {
        await t.close();
        jwks.close();
      }
    });
  });
});
