import { readFileSync } from 'node:fs';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { request, upload } from '../support/http';
import { textFile } from '../support/random';

async function storage(t: TestApp, token: string) {
  return (await request(`${t.url}/api/v1/media/storage`, { token })).json;
}

async function leftovers(t: TestApp, owner: string) {
  const reservations = await query(t.databaseUrl, 'SELECT id FROM quota_reservations WHERE owner_id = $1', [owner]);
  return { reservations: reservations.length, temp: t.tempFiles().length };
}

describe('limits', () => {
  describe('storage quota', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        env: { QUOTA_STORAGE_BYTES: '100000', UPLOAD_CONCURRENCY_PER_USER: '20', QUOTA_DAILY_UPLOADS: '1000' },
      });
    });
    afterAll(() => t.close());

    it('answers 507 for an upload that does not fit, leaving nothing behind', async () => {
      const token = await t.token('q1');
      expect((await upload(t.url, token, { name: 'a.txt', bytes: textFile(1, 60_000) })).status).toBe(201);
      const before = await storage(t, token);
      const refused = await upload(t.url, token, { name: 'b.txt', bytes: textFile(2, 50_000) });
      expect(refused.status).toBe(507);
      expect(refused.json.code).toBe('QUOTA_EXCEEDED');
      expect(await storage(t, token)).toEqual(before);
      expect(await leftovers(t, 'q1')).toEqual({ reservations: 0, temp: 0 });
      expect((await upload(t.url, token, { name: 'c.txt', bytes: textFile(3, 40_000) })).status).toBe(201);
      expect((await storage(t, token)).usedBytes).toBe(100_000);
    });

    it('never overshoots under parallel uploads: exactly the ones that fit succeed', async () => {
      const token = await t.token('q2');
      const size = 15_000;
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          upload(t.url, token, { name: `p${i}.txt`, bytes: textFile(100 + i, size) }),
        ),
      );
      const created = replies.filter((r) => r.status === 201);
      const refused = replies.filter((r) => r.status === 507);
      expect(created.length).toBe(Math.floor(100_000 / size));
      expect(refused.length).toBe(12 - created.length);
      const usage = await storage(t, token);
      expect(usage.usedBytes).toBe(created.length * size);
      const [{ sum }] = await query(
        t.databaseUrl,
        'SELECT coalesce(sum(size), 0)::int AS sum FROM media WHERE owner_id = $1',
        ['q2'],
      );
      expect(sum).toBe(usage.usedBytes);
      expect(await leftovers(t, 'q2')).toEqual({ reservations: 0, temp: 0 });
    });
  });

  describe('daily uploads', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { QUOTA_DAILY_UPLOADS: '2' } });
    });
    afterAll(() => t.close());

    it('answers 429 DAILY_UPLOAD_LIMIT with Retry-After until UTC midnight; rejected uploads do not count', async () => {
      const token = await t.token('d1');
      expect((await upload(t.url, token, { name: 'bad.txt', bytes: Buffer.from([0, 1, 2, 3]) })).status).toBe(415);
      expect((await upload(t.url, token, { name: '1.txt', bytes: textFile(4, 100) })).status).toBe(201);
      expect((await upload(t.url, token, { name: '2.txt', bytes: textFile(5, 100) })).status).toBe(201);
      const third = await upload(t.url, token, { name: '3.txt', bytes: textFile(6, 100) });
      expect(third.status).toBe(429);
      expect(third.json.code).toBe('DAILY_UPLOAD_LIMIT');
      const now = new Date();
      const untilMidnight =
        (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
      expect(Math.abs(Number(third.headers.get('retry-after')) - untilMidnight)).toBeLessThan(60);
      expect(await storage(t, token)).toMatchObject({ uploadsToday: 2, dailyUploadLimit: 2, fileCount: 2 });
      expect(await leftovers(t, 'd1')).toEqual({ reservations: 0, temp: 0 });
      // The count is per user.
      const other = await t.token('d2');
      expect((await upload(t.url, other, { name: '1.txt', bytes: textFile(7, 100) })).status).toBe(201);
    });
  });

  describe('request rate, concurrency and bandwidth', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        env: { RATE_LIMIT_PER_MINUTE: '5', UPLOAD_CONCURRENCY_PER_USER: '1', UPLOAD_BYTES_PER_SECOND: '262144' },
      });
    });
    afterAll(() => t.close());

    it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_MINUTE, per user', async () => {
      const token = await t.token('r1');
      const statuses: number[] = [];
      let limited;
      for (let i = 0; i < 7; i++) {
        const reply = await request(`${t.url}/api/v1/media/storage`, { token });
        statuses.push(reply.status);
        if (reply.status === 429) limited = reply;
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      expect(limited!.json.code).toBe('RATE_LIMITED');
      expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await request(`${t.url}/api/v1/media/storage`, { token: await t.token('r2') })).status).toBe(200);
    });

    it('counts the reads the read lane serves (metadata, file, preview) in the same budget', async () => {
      const token = await t.token('r3');
      const absent = '/api/v1/media/00000000-0000-4000-8000-000000000000';
      const statuses: number[] = [];
      for (const path of [
        `${absent}/metadata`,
        '/api/v1/media/storage',
        absent,
        `${absent}/preview`,
        '/api/v1/media/storage',
      ])
        statuses.push((await request(`${t.url}${path}`, { token })).status);
      const limited = await request(`${t.url}${absent}/metadata`, { token });
      expect(statuses).toEqual([404, 200, 404, 404, 200]);
      expect(limited.status).toBe(429);
      expect(limited.json.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    });

    it('slows an upload to UPLOAD_BYTES_PER_SECOND and answers 429 TOO_MANY_CONCURRENT_UPLOADS to a second one meanwhile', async () => {
      const token = await t.token('c1');
      // 256 KiB/s with one second of burst: 768 KiB needs at least ~2 s.
      const started = Date.now();
      const bytes = textFile(8, 768 * 1024);
      const slow = upload(t.url, token, { name: 'big.txt', bytes });
      for (let waited = 0; t.tempFiles().length === 0 && waited < 5000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Mid-upload, the temp file holds ciphertext only (written in 1 MiB batches: maybe nothing yet).
      const [temp] = t.tempFiles();
      const partial = readFileSync(temp);
      expect(['', 'WMSE']).toContain(partial.subarray(0, 4).toString());
      expect(partial.includes(bytes.subarray(0, 40))).toBe(false);
      const second = await upload(t.url, token, { name: 'small.txt', bytes: textFile(9, 100) });
      expect(second.status).toBe(429);
      expect(second.json.code).toBe('TOO_MANY_CONCURRENT_UPLOADS');
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await slow).status).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1800);
      expect((await upload(t.url, token, { name: 'after.txt', bytes: textFile(10, 100) })).status).toBe(201);
    });
  });
});
