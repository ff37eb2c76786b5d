import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload } from '../support/http';

describe('a required dependency down', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Nothing listens on port 9 of this machine: the database is unreachable.
    t = await startTestApp({ databaseUrl: 'postgresql://media:x@127.0.0.1:9/media' });
  });
  afterAll(() => t.close());

  it('answers 503 DEPENDENCY_UNAVAILABLE with Retry-After, and readiness fails', async () => {
    const token = await t.token('alice');
    const reply = await upload(t.url, token, { name: 'a.jpg', bytes: fixture('jpeg-exif-gps-nikon-d2h.jpg') });
    expect(reply.status).toBe(503);
    expect(reply.json).toEqual({
      statusCode: 503,
      code: 'DEPENDENCY_UNAVAILABLE',
      message: expect.any(String),
      requestId: expect.any(String),
    });
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    const stats = await request(`${t.url}/api/v1/media/storage`, { token });
    expect(stats.status).toBe(503);
    const ready = await request(`${t.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.error.database.status).toBe('down');
    // The failing dependency is named; the failure's text (address, driver message) is not.
    expect(ready.json.error.database).toEqual({ status: 'down' });
    expect(ready.body.toString()).not.toMatch(/127\.0\.0\.1|:9\b|ECONNREFUSED|reach|prisma|message/i);
    expect(t.tempFiles()).toEqual([]);
  });
});
