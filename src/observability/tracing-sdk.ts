import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node';

/**
 * The OpenTelemetry SDK, loaded by tracing.ts only when tracing starts: with tracing off (the
 * default) the process does not carry it (≈ 150 modules).
 */

/** A provider sending spans to `exporter`, batched unless `batch` is false; not yet registered. */
export function tracerProvider(exporter: SpanExporter, serviceName: string, batch: boolean): NodeTracerProvider {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [batch ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter)],
  });
}

/** OTLP over HTTP to `${endpoint}/v1/traces`, as the OpenTelemetry specification derives it from the endpoint. */
export function otlpExporter(endpoint: string): SpanExporter {
  return new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
}
