import http from 'node:http';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { fixture } from '../support/http';
import { waitFor } from '../support/wait';

const MB = 1024 * 1024;

interface Outcome {
  status?: number;
  body: string;
  sentBytes: number;
  error?: string;
}

/**
 * Streams a multipart upload whose file part is `head` followed by zeros, up to `total`
 * bytes, writing only as fast as the server reads, and stops at the first response.
 */
function streamUpload(t: TestApp, token: string, head: Buffer, total: number): Promise<Outcome> {
  const boundary = 'media-test-boundary';
  const preamble = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const url = new URL(`${t.url}/api/v1/media/upload`);
  return new Promise((resolve) => {
    const outcome: Outcome = { body: '', sentBytes: 0 };
    let stopped = false;
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Transfer-Encoding': 'chunked',
      },
    });
    req.on('response', (res) => {
      stopped = true;
      outcome.status = res.statusCode;
      res.on('data', (chunk) => (outcome.body += chunk));
      res.on('end', () => resolve(outcome));
      res.on('error', () => resolve(outcome));
    });
    req.on('error', (error) => {
      stopped = true;
      outcome.error = error.message;
      setTimeout(() => resolve(outcome), 50);
    });
    const zeros = Buffer.alloc(256 * 1024);
    const write = () => {
      while (!stopped && outcome.sentBytes < total) {
        const chunk = outcome.sentBytes === 0 ? Buffer.concat([preamble, head]) : zeros;
        outcome.sentBytes += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      if (!stopped) req.end(`\r\n--${boundary}--\r\n`);
    };
    write();
  });
}

describe('per-type size limits while streaming', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        MAX_ARCHIVE_BYTES: String(2 * MB),
        MAX_DOCUMENT_BYTES: String(1 * MB),
        MAX_IMAGE_BYTES: String(1 * MB),
        MAX_VIDEO_BYTES: String(3 * MB),
      },
    });
    token = await t.token('big');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  it('refuses a 2 GB ZIP body with 413 after reading little more than the limit', async () => {
    const zipHead = fixture('zip-html-pages.zip').subarray(0, 64);
    const outcome = await streamUpload(t, token, zipHead, 2 * 1024 * MB);
    expect(outcome.status).toBe(413);
    expect(JSON.parse(outcome.body).code).toBe('FILE_TOO_LARGE');
    // The client could only push what the server read plus socket buffers: far from 2 GB.
    expect(outcome.sentBytes).toBeLessThan(2 * MB + 16 * MB);
  });

  it('applies the limit of the detected type, not the largest one', async () => {
    const jpegHead = fixture('jpeg-exif-gps-nikon-d2h.jpg').subarray(0, 8192);
    const outcome = await streamUpload(t, token, jpegHead, 2.5 * MB);
    expect(outcome.status).toBe(413);
    expect(outcome.sentBytes).toBeLessThan(1 * MB + 16 * MB);
  });

  it('refuses unsupported bytes with 415 from the first bytes, without reading the rest', async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(8192)]);
    const outcome = await streamUpload(t, token, elf, 1024 * MB);
    expect(outcome.status).toBe(415);
    expect(outcome.sentBytes).toBeLessThan(16 * MB);
  });

  it('answers 400 at a second file part without reading it', async () => {
    const first = Buffer.concat([
      Buffer.from(
        'hello\r\n--media-test-boundary\r\nContent-Disposition: form-data; name="file"; filename="second.bin"\r\n\r\n',
      ),
    ]);
    const outcome = await streamUpload(t, token, first, 1024 * MB);
    expect(outcome.status).toBe(400);
    expect(JSON.parse(outcome.body).code).toBe('VALIDATION_FAILED');
    expect(outcome.sentBytes).toBeLessThan(32 * MB);
  });

  it('still accepts a file just under its limit', async () => {
    const zip = fixture('zip-html-pages.zip');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(zip)]), 'ok.zip');
    const reply = await fetch(`${t.url}/api/v1/media/upload`, {
      method: 'POST',
      body: form,
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(reply.status).toBe(201);
  });
});

describe('an upload cut off by the client', () => {
  it('leaves no temp file, reservation or row behind', async () => {
    const t = await startTestApp({ env: { UPLOAD_BYTES_PER_SECOND: String(512 * 1024) } });
    try {
      const token = await t.token('dropper');
      const url = new URL(`${t.url}/api/v1/media/upload`);
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'multipart/form-data; boundary=b',
          'Content-Length': String(10 * MB),
        },
      });
      req.on('error', () => {});
      req.write('--b\r\nContent-Disposition: form-data; name="file"; filename="v.zip"\r\n\r\n');
      req.write(fixture('zip-html-pages.zip').subarray(0, 60_000));
      req.write(Buffer.alloc(1 * MB));
      await waitFor(() => t.tempFiles().length === 1);
      req.destroy(); // the phone lost its network
      await waitFor(() => t.tempFiles().length === 0);

      await waitFor(
        async () =>
          (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'dropper'")).length === 0,
      );
      expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'dropper'")).toEqual([]);
      const storage = await fetch(`${t.url}/api/v1/media/storage`, {
        headers: { Authorization: `Bearer ${token}` },
      }).then((r) => r.json());
      expect(storage).toMatchObject({ usedBytes: 0, fileCount: 0, uploadsToday: 0 });
    } finally {
      await t.close();
    }
  });
});
