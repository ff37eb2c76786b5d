import net from 'node:net';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { toolProcesses } from '../support/hostile';
import { request, upload } from '../support/http';
import { waitFor } from '../support/wait';

/*
 * Slow clients (slowloris): a client that sends its headers, or its body, one byte a
 * second holds one connection, not a worker; while many of them hang the service answers
 * everyone else at once, and each of them is cut within a bound: headers within 40 s
 * (Apache's mod_reqtimeout default, header=20-40), a body crawling at 1 byte/s within 60 s
 * (no real upload is that slow). Once they are gone nothing of theirs is held.
 */

jest.setTimeout(180_000);
const SLOW_HEADERS = 50;
const SLOW_BODIES = 20;
const HEADERS_CUT_WITHIN_MS = 40_000;
const BODY_CUT_WITHIN_MS = 60_000;

interface Crawler {
  socket: net.Socket;
  openedAt: number;
  closedAt?: number;
  /** Bytes left to trickle, one a second. */
  rest: Buffer;
}

describe('slow clients', () => {
  let t: TestApp;
  let ownerToken: string;
  let mediaId: string;
  const slowHeaders: Crawler[] = [];
  const slowBodies: Crawler[] = [];
  let ticker: NodeJS.Timeout;

  function crawl(port: number, first: string, rest: Buffer, into: Crawler[]) {
    const crawler: Crawler = { socket: net.connect(port, '127.0.0.1'), openedAt: Date.now(), rest };
    crawler.socket.on('error', () => {});
    crawler.socket.on('close', () => (crawler.closedAt = Date.now()));
    crawler.socket.on('connect', () => crawler.socket.write(first));
    into.push(crawler);
  }

  beforeAll(async () => {
    t = await startTestApp();
    ownerToken = await t.token('patient-owner');
    mediaId = (
      await upload(t.url, ownerToken, { name: 'kept.txt', bytes: Buffer.from('a document that is already stored\n') })
    ).json.id;
    const port = Number(new URL(t.url).port);
    for (let i = 0; i < SLOW_HEADERS; i++) {
      // Headers that never end: one byte of a header line a second.
      crawl(
        port,
        'POST /api/v1/media/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n',
        Buffer.from(`X-Slow-${i}: ${'z'.repeat(500)}`),
        slowHeaders,
      );
    }
    for (let i = 0; i < SLOW_BODIES; i++) {
      const token = await t.token(`crawler-${i}`);
      const head =
        `POST /api/v1/media/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: 100000\r\n\r\n' +
        '--b0undary\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\n\r\n';
      crawl(port, head, Buffer.from('s'.repeat(5000)), slowBodies);
    }
    ticker = setInterval(() => {
      for (const crawler of [...slowHeaders, ...slowBodies]) {
        if (crawler.closedAt || crawler.socket.connecting || !crawler.rest.length) continue;
        crawler.socket.write(crawler.rest.subarray(0, 1));
        crawler.rest = crawler.rest.subarray(1);
      }
    }, 1000);
  });

  afterAll(async () => {
    clearInterval(ticker);
    for (const crawler of [...slowHeaders, ...slowBodies]) crawler.socket.destroy();
    await t.close();
  });

  const stillOpen = (crawlers: Crawler[], within: number) =>
    crawlers.filter((c) => (c.closedAt ?? Infinity) - c.openedAt > within).length;
  const untilAfter = (crawlers: Crawler[], ms: number) =>
    new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, Math.max(...crawlers.map((c) => c.openedAt)) + ms + 2000 - Date.now())),
    );

  it(`while ${SLOW_HEADERS} slow-header and ${SLOW_BODIES} slow-body clients hang, the service answers others at once`, async () => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // They are all connected and still sending.
    expect(slowHeaders.filter((c) => c.closedAt).length + slowBodies.filter((c) => c.closedAt).length).toBe(0);
    await waitFor(
      async () =>
        (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id LIKE 'crawler-%'")).length ===
        SLOW_BODIES,
      5000,
    );
    for (let i = 0; i < 3; i++) {
      expect((await request(`${t.url}/health/live`)).status).toBe(200);
      const metadata = await request(`${t.url}/api/v1/media/${mediaId}/metadata`, { token: ownerToken });
      expect(metadata.status).toBe(200);
      expect(metadata.json.id).toBe(mediaId);
      const fresh = await upload(t.url, await t.token('bystander'), {
        name: `note-${i}.txt`,
        bytes: Buffer.from(`an ordinary upload, number ${i}\n`),
      });
      expect(fresh.status).toBe(201);
    }
  });

  it(`cuts every client still sending its headers within ${HEADERS_CUT_WITHIN_MS / 1000} s`, async () => {
    await untilAfter(slowHeaders, HEADERS_CUT_WITHIN_MS);
    expect(stillOpen(slowHeaders, HEADERS_CUT_WITHIN_MS)).toBe(0);
  });

  it(`cuts every upload whose body crawls at 1 byte/s within ${BODY_CUT_WITHIN_MS / 1000} s, and holds nothing of theirs afterwards`, async () => {
    await untilAfter(slowBodies, BODY_CUT_WITHIN_MS);
    expect(stillOpen(slowBodies, BODY_CUT_WITHIN_MS)).toBe(0);
    // Whether cut by the service or (past the bound) by us, the uploads leave nothing behind.
    for (const crawler of slowBodies) crawler.socket.destroy();
    await waitFor(
      async () =>
        t.tempFiles().length === 0 &&
        (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id LIKE 'crawler-%'")).length === 0,
      3000,
    ).catch(() => {});
    expect(t.tempFiles()).toEqual([]);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id LIKE 'crawler-%'")).toEqual([]);
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id LIKE 'crawler-%'")).toEqual([]);
    expect(toolProcesses()).toEqual([]);
    expect((await request(`${t.url}/health/live`)).status).toBe(200);
  });
});
