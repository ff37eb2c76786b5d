import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { STAGES } from '../../src/observability/metrics';
import { startTracing, stopTracing } from '../../src/observability/tracing';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload } from '../support/http';
import { MediaGrpcClient } from '../support/media-grpc';
import { ModerationServer } from '../support/moderation-server';
import { waitFor } from '../support/wait';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/**
 * One upload seen stage by stage (issue: operations): a trace continuing the caller's W3C
 * context, with a span per pipeline stage, the moderation call carrying the context to the
 * peer, and the worker's job continuing it; the stage histograms and business metrics after
 * real uploads; label values that never grow with the number of users.
 */
describe('an upload, observed', () => {
  const exporter = new InMemorySpanExporter();
  let peer: ModerationServer;
  let t: TestApp;
  const scratch = mkdtempSync(join(tmpdir(), 'media-test-observed-'));

  beforeAll(async () => {
    await startTracing(exporter, { batch: false });
    peer = await ModerationServer.start();
    // No processing budget: a video's transcode always continues on the worker (202).
    t = await startTestApp({ grpc: true, env: { MODERATION_GRPC_URL: peer.url, PROCESSING_BUDGET_SECONDS: '0' } });
  });
  afterAll(async () => {
    await t?.close();
    await peer?.stop();
    await stopTracing();
    rmSync(scratch, { recursive: true, force: true });
  });

  const traceOf = (traceId: string) =>
    exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
  const named = (spans: ReadableSpan[], name: string) => spans.find((span) => span.name === name);

  it("is one trace: the caller's context continued, a span per stage, the peer call carrying it", async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const token = await t.token('traced-user');
    const reply = await upload(t.url, token, {
      name: 'photo.jpg',
      bytes: fixture('jpeg-exif-gps-nikon-d2h.jpg'),
      headers: { traceparent: `00-${traceId}-${callerSpan}-01`, 'X-Request-Id': 'traced-upload-1' },
    });
    expect(reply.status).toBe(201);
    await waitFor(() => traceOf(traceId).some((span) => span.kind === SpanKind.SERVER));

    const spans = traceOf(traceId);
    const server = spans.find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.name).toBe('POST /api/v1/media/upload');
    expect(server.parentSpanContext?.spanId).toBe(callerSpan);
    expect(server.attributes).toMatchObject({
      'http.response.status_code': 201,
      'enduser.id': 'traced-user',
      'media.id': reply.json.id,
      'media.request_id': 'traced-upload-1',
    });
    const stages = spans.filter((span) => span.name.startsWith('upload.')).map((span) => span.name.slice(7));
    // Every stage with a span of its own (seal is timed inside receive: no span).
    expect(new Set(stages)).toEqual(new Set(STAGES.filter((stage) => stage !== 'seal')));
    for (const span of spans.filter((s) => s.name.startsWith('upload.'))) {
      expect(span.endTime).toBeDefined();
    }
    const moderation = named(spans, 'moderation/CheckMediaContent')!;
    expect(moderation.kind).toBe(SpanKind.CLIENT);
    expect(named(spans, 'upload.moderate')!.spanContext().spanId).toBe(moderation.parentSpanContext?.spanId);
    // The peer received the context and the request id.
    const at = peer.requestIds.lastIndexOf('traced-upload-1');
    expect(at).toBeGreaterThanOrEqual(0);
    expect(peer.traceparents[at]).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it("continues a gRPC caller's trace (messaging-service asking for a media)", async () => {
    const token = await t.token('grpc-traced-owner');
    const media = await upload(t.url, token, { name: 'rose.png', bytes: fixture('png-rgba-alpha-yellow-rose.png') });
    expect(media.status).toBe(201);
    const client = new MediaGrpcClient(t.grpcAddress!);
    try {
      const traceId = randomBytes(16).toString('hex');
      const callerSpan = randomBytes(8).toString('hex');
      const outcome = await client.call(
        'CreateSignedUrl',
        { acting_user_id: 'grpc-traced-owner', media_id: media.json.id, variant: 'original', expires_in_seconds: 60 },
        { requestId: 'grpc-traced-1', traceparent: `00-${traceId}-${callerSpan}-01` },
      );
      expect(outcome.error).toBeUndefined();
      await waitFor(() => traceOf(traceId).length > 0);
      const [server] = traceOf(traceId);
      expect(server.name).toBe('media.v1.MediaService/CreateSignedUrl');
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.parentSpanContext?.spanId).toBe(callerSpan);
      expect(server.attributes).toMatchObject({ 'media.request_id': 'grpc-traced-1', 'rpc.grpc.status_code': 0 });
    } finally {
      client.close();
    }
  });

  it("continues the trace into the worker's job, and counts the job", async () => {
    const clip = join(scratch, 'clip.avi');
    ffmpeg(...lavfi('testsrc2=size=320x240:rate=15:duration=1'), '-c:v', 'mpeg4', clip);
    const traceId = randomBytes(16).toString('hex');
    const token = await t.token('traced-filmmaker');
    const reply = await upload(t.url, token, {
      name: 'clip.avi',
      bytes: readFileSync(clip),
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(reply.status).toBe(202);
    await waitFor(() => named(traceOf(traceId), 'job finish-processing') !== undefined, 120_000);

    const spans = traceOf(traceId);
    const job = named(spans, 'job finish-processing')!;
    expect(job.kind).toBe(SpanKind.CONSUMER);
    const processing = spans.filter((span) => span.parentSpanContext?.spanId === job.spanContext().spanId);
    expect(processing.map((span) => span.name)).toEqual(expect.arrayContaining(['upload.process', 'upload.store']));
    expect((await request(`${t.url}/api/v1/media/${reply.json.id}/metadata`, { token })).json.status).toBe('ready');

    const metrics = await scrape();
    expect(metrics).toMatch(/media_job_duration_seconds_count\{queue="finish-processing",outcome="completed"\} [1-9]/);
    expect(metrics).toMatch(/media_job_wait_seconds_count\{queue="finish-processing"\} [1-9]/);
    expect(metrics).toMatch(/media_processing_duration_seconds_count\{media_type="video"\} [1-9]/);
    expect(metrics).toMatch(/media_compression_ratio_count\{format="mp4"\} [1-9]/);
    expect(metrics).toMatch(/media_queue_depth\{queue="finish-processing"\} 0/);
  }, 180_000);

  it('exposes the stage histograms and the business metrics after real uploads', async () => {
    const token = await t.token('metrics-owner');
    expect(
      (await upload(t.url, token, { name: 'rose.png', bytes: fixture('png-rgba-alpha-yellow-rose.png') })).status,
    ).toBe(201);
    const html = Buffer.from('<!doctype html><html><body>not a media file</body></html>');
    expect((await upload(t.url, token, { name: 'page.html', bytes: html })).status).toBe(415);

    const metrics = await scrape();
    for (const stage of STAGES) {
      expect(metrics).toMatch(new RegExp(`media_upload_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
    }
    expect(metrics).toMatch(/media_uploads_total\{media_type="image",outcome="created"\} [1-9]/);
    expect(metrics).toMatch(/media_uploads_total\{media_type="unknown",outcome="UNSUPPORTED_MEDIA_TYPE"\} 1/);
    expect(metrics).toMatch(/media_upload_rejections_total\{reason="type"\} 1/);
    expect(metrics).toMatch(/media_upload_bytes_total\{media_type="image"\} [1-9]/);
    expect(metrics).toMatch(/media_compression_ratio_count\{format="(jpeg|png|webp)"\} [1-9]/);
    expect(metrics).toMatch(/media_preview_duration_seconds_count\{media_type="image"\} [1-9]/);
    expect(metrics).toMatch(/media_peer_request_duration_seconds_count\{peer="moderation",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/media_peer_breaker_state\{peer="moderation"\} 0/);
    expect(metrics).toMatch(/media_storage_used_bytes [1-9]/);
    expect(metrics).toMatch(/media_storage_volume_size_bytes [1-9]/);
    expect(metrics).toMatch(/media_storage_volume_free_bytes [1-9]/);
    expect(metrics).toMatch(/media_outbox_backlog \d+/);
  });

  it("keeps label values bounded: 200 users' uploads add no series", async () => {
    const users = Array.from({ length: 200 }, (_, i) => `cardinality-user-${i}`);
    const note = (i: number) => Buffer.from(`note ${i}: ${randomBytes(8).toString('hex')}\n`);
    const uploadAs = async (user: string, i: number) =>
      expect((await upload(t.url, await t.token(user), { name: `note-${i}.txt`, bytes: note(i) })).status).toBe(201);

    for (const [i, user] of users.slice(0, 10).entries()) await uploadAs(user, i);
    const before = seriesOf(await scrape());
    for (let i = 10; i < users.length; i += 10) {
      await Promise.all(users.slice(i, i + 10).map((user, j) => uploadAs(user, i + j)));
    }
    const text = await scrape();
    const after = seriesOf(text);
    expect([...after].filter((series) => !before.has(series))).toEqual([]);
    for (const user of users) expect(text).not.toContain(user);
  }, 300_000);

  async function scrape(): Promise<string> {
    const reply = await fetch(`${t.url}/metrics`);
    expect(reply.status).toBe(200);
    return reply.text();
  }
});

/** The series (name and labels) of the service's own metrics, without the process and Node.js defaults. */
function seriesOf(text: string): Set<string> {
  const defaults = /^media_(process_|nodejs_|eventloop|heap|gc)/;
  return new Set(
    text
      .split('\n')
      .filter((line) => line.startsWith('media_') && !defaults.test(line))
      .map((line) => line.slice(0, line.lastIndexOf(' '))),
  );
}
