import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { KEY_A, signToken, TEST_JWT_SECRET } from '../support/app';
import { createTestDatabase } from '../support/database';
import { request } from '../support/http';
import { ready, runService, serviceEnv } from '../support/service-process';
import { waitFor } from '../support/wait';

/**
 * The built service with OTEL_EXPORTER_OTLP_ENDPOINT set sends its spans by OTLP/HTTP to
 * <endpoint>/v1/traces — here a collector stand-in that keeps what it is sent — and sends
 * what is still buffered when it is stopped.
 */
describe('traces exported by OTLP', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-otlp-'));
  const received: { path: string; type: string; body: string }[] = [];
  let collector: Server;
  afterAll(() => {
    collector?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("sends the request's span, in the caller's trace, to <endpoint>/v1/traces", async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          type: req.headers['content-type'] ?? '',
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = runService(
      serviceEnv({
        DATA_DIR: dataDir,
        PORT: String(port),
        DATABASE_URL: await createTestDatabase(),
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        MEDIA_MASTER_KEYS: KEY_A,
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_SERVICE_NAME: 'media-service-under-test',
      }),
    );
    await ready(service, base);
    const traceId = randomBytes(16).toString('hex');
    const reply = await request(`${base}/api/v1/media/storage`, {
      token: await signToken('otlp-user'),
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(reply.status).toBe(200);

    service.child.kill('SIGTERM'); // the spans still batched are sent at shutdown
    expect(await service.exited).toBe(0);
    await waitFor(() => received.some((post) => post.body.includes(traceId)));
    const post = received.find((entry) => entry.body.includes(traceId))!;
    expect(post.path).toBe('/v1/traces');
    expect(post.type).toMatch(/application\/json/);
    expect(post.body).toContain('media-service-under-test');
    expect(post.body).toContain('GET /api/v1/media/storage');
    expect(post.body).toContain('otlp-user');
  }, 120_000);
});
