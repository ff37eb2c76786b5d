import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NodeTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-node';

/**
 * OpenTelemetry traces (docs/operations.md, "Traces"). Off unless OTEL_EXPORTER_OTLP_ENDPOINT
 * is set (or a test starts it with an exporter of its own): then nothing here creates a span,
 * extracts or injects a header, and `traced` is a plain call — tracing off costs nothing
 * measurable. On: W3C trace context is continued from incoming HTTP and gRPC, passed to peers
 * and into jobs, with one span per request, stage, peer call and job.
 */
let provider: NodeTracerProvider | undefined;

export function tracingOn(): boolean {
  return provider !== undefined;
}

const tracer = () => trace.getTracer('media-service');

/** Starts tracing for this process: spans go to `exporter` (batched, unless `batch` is false). */
export async function startTracing(
  exporter: SpanExporter,
  options: { serviceName?: string; batch?: boolean } = {},
): Promise<void> {
  const { tracerProvider } = await import('./tracing-sdk.js');
  if (provider) throw new Error('tracing is already started');
  provider = tracerProvider(exporter, options.serviceName ?? 'media-service', options.batch !== false);
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
}

/** OTLP over HTTP to the collector at `endpoint`. */
export async function startOtlpTracing(endpoint: string, serviceName: string): Promise<void> {
  const { otlpExporter } = await import('./tracing-sdk.js');
  await startTracing(otlpExporter(endpoint), { serviceName });
}

/** Sends what is buffered and stops tracing (at shutdown, and between tests). */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  if (!stopping) return;
  provider = undefined;
  await stopping.shutdown().catch(() => {});
  trace.disable();
  context.disable();
  propagation.disable();
}

/** Runs `fn` in a new span (a child of the active one) when tracing is on; otherwise just runs it. */
export async function traced<T>(
  name: string,
  fn: (span?: Span) => Promise<T>,
  options: { kind?: SpanKind; attributes?: Record<string, string | number> } = {},
): Promise<T> {
  if (!provider) return fn();
  const span = tracer().startSpan(name, options);
  try {
    return await context.with(trace.setSpan(context.active(), span), () => fn(span));
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Marks `span` failed by `error`. */
export function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** A server span continuing the trace context of `carrier` (HTTP headers, gRPC metadata as an object, a job's data). */
export function startServerSpan(
  name: string,
  carrier: object,
  attributes: Record<string, string | number>,
  kind = SpanKind.SERVER,
): { span: Span; run: <T>(fn: () => T) => T } | undefined {
  if (!provider) return undefined;
  const parent = propagation.extract(context.active(), carrier);
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  const active = trace.setSpan(parent, span);
  return { span, run: (fn) => context.with(active, fn) };
}

/** The active trace context as headers (`traceparent`, `tracestate`): empty when tracing is off. */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  if (provider) propagation.inject(context.active(), headers);
  return headers;
}

export { SpanKind };
