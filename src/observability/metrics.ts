import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The process's Prometheus metrics, in a registry of their own (one per app instance). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'media_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly grpcDuration = new Histogram({
    name: 'media_grpc_request_duration_seconds',
    help: 'gRPC call duration by method and status code',
    labelNames: ['method', 'code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly uploads = new Counter({
    name: 'media_uploads_total',
    help: 'Finished uploads by outcome (created, duplicate, or the error code)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly uploadBytes = new Counter({
    name: 'media_upload_bytes_total',
    help: 'Bytes of accepted uploads',
    registers: [this.registry],
  });

  readonly rejections = new Counter({
    name: 'media_upload_rejections_total',
    help: 'Uploads refused for their content, by kind (blocklist, moderation, malware, corrupt)',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'media_' });
  }
}
