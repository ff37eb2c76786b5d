import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { knownFailure } from '../common/known-failure.js';
import { protoPath } from '../common/proto-path.js';
import { ERRORS, MediaError } from '../errors.js';
import { asPortError } from '../lifecycle/port.js';
import { Metrics } from '../observability/metrics.js';
import { type Observation, observing } from '../observability/observation.js';
import { failed, startServerSpan } from '../observability/tracing.js';
import { MediaRpc, type RpcHandlers } from './media.rpc.js';

/** The gRPC API runs beside HTTP in the API role (api, all), unless GRPC_PORT is 0. */
export function servesGrpc(config: AppConfig): boolean {
  return config.role !== 'worker' && config.grpc.port !== 0;
}

/** A request id from the caller's `x-request-id`, when it is one we would log as is. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Snake-case fields as in the proto, 64-bit integers as numbers (sizes stay far below 2^53), absent fields as defaults. */
const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true } as const;

/**
 * Our gRPC API (proto/media.proto) in the same process and lifecycle as HTTP: bound at
 * boot (a busy GRPC_PORT stops the start-up like a busy PORT), part of readiness, drained
 * at shutdown. Every call: the bearer token when GRPC_API_TOKEN is set, the request id in
 * metadata both ways, our error registry mapped to gRPC codes, a log line and a metric.
 */
@Injectable()
export class GrpcServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('gRPC');
  private server?: grpc.Server;
  private boundPort?: number;
  private readonly tokenDigest?: Buffer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rpc: MediaRpc,
    private readonly metrics: Metrics,
  ) {
    if (config.grpc.apiToken) this.tokenDigest = sha256(`Bearer ${config.grpc.apiToken}`);
  }

  /** The port bound, once serving (undefined when off or not bound yet). */
  get port(): number | undefined {
    return this.boundPort;
  }

  get enabled(): boolean {
    return servesGrpc(this.config);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    const definition = loadSync(protoPath('media'), LOADER_OPTIONS);
    const service = (
      grpc.loadPackageDefinition(definition) as unknown as {
        media: { v1: { MediaService: grpc.ServiceClientConstructor } };
      }
    ).media.v1.MediaService.service;
    const server = new grpc.Server();
    const handlers = this.rpc.handlers();
    const implementation = Object.fromEntries(
      Object.entries(handlers).map(([name, handler]) => [name, this.unary(name, handler)]),
    );
    server.addService(service, implementation);
    const { host, port } = this.config.grpc;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${host.includes(':') ? `[${host}]` : host}:${port}`,
        grpc.ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(asPortError(portErrorOf(error), port, 'GRPC_PORT')) : resolve(bound)),
      ),
    );
    this.server = server;
  }

  /** Stops taking calls and lets those in flight finish, within the shutdown grace period. */
  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.boundPort = undefined;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.config.shutdownGraceMs).unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private unary(name: string, handler: RpcHandlers[string]): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const started = process.hrtime.bigint();
      const given = call.metadata.get('x-request-id')[0];
      const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      const metadata = new grpc.Metadata();
      metadata.set('x-request-id', requestId);
      call.sendMetadata(metadata);
      // Who acts and on which media, for the log line (field names as proto/media.proto spells them).
      const asked = call.request as { acting_user_id?: unknown; user_id?: unknown; media_id?: unknown };
      const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
      const observed: Observation = {
        requestId,
        stages: {},
        userId: text(asked.acting_user_id) ?? text(asked.user_id),
        mediaId: text(asked.media_id),
      };
      const server = startServerSpan(`media.v1.MediaService/${name}`, call.metadata.getMap(), {
        'rpc.system': 'grpc',
        'rpc.method': name,
        'media.request_id': requestId,
      });
      const done = (code: grpc.status, error?: unknown) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const codeName = grpc.status[code];
        this.metrics.grpcDuration.observe({ method: name, code: codeName }, seconds);
        const { userId, mediaId } = observed;
        const line = { rpc: name, code: codeName, ms: Math.round(seconds * 1000), requestId, userId, mediaId };
        if (code === grpc.status.INTERNAL) this.logger.error({ ...line, err: error }, 'gRPC call failed');
        else this.logger.log(line, 'gRPC call');
        if (server) {
          server.span.setAttribute('rpc.grpc.status_code', code);
          if (code !== grpc.status.OK) failed(server.span, error);
          server.span.end();
        }
      };
      const run = () =>
        observing(observed, async () => {
          this.authorize(call.metadata);
          return handler(call.request as never);
        });
      (server ? server.run(run) : run()).then(
        (response) => {
          done(grpc.status.OK);
          callback(null, response);
        },
        (exception: unknown) => {
          const error = knownFailure(exception) ?? new MediaError('INTERNAL_ERROR');
          const code = grpc.status[ERRORS[error.code].grpc];
          done(code, exception);
          const trailers = new grpc.Metadata();
          trailers.set('x-request-id', requestId);
          trailers.set('media-error-code', error.code);
          if (error.retryAfter !== undefined) trailers.set('retry-after', String(error.retryAfter));
          callback({ code, details: error.message, metadata: trailers });
        },
      );
    };
  }

  /** With GRPC_API_TOKEN, `authorization: Bearer <token>` or UNAUTHENTICATED (compared in constant time). */
  private authorize(metadata: grpc.Metadata): void {
    if (!this.tokenDigest) return;
    const given = metadata.get('authorization')[0];
    if (typeof given !== 'string' || !timingSafeEqual(sha256(given), this.tokenDigest)) {
      throw new MediaError('UNAUTHORIZED', 'This gRPC API needs authorization: Bearer <GRPC_API_TOKEN>');
    }
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** grpc-js reports a busy port as a message ("No address added out of total 1 resolved"); the errno is in its text. */
function portErrorOf(error: Error): Error {
  const code = /EADDRINUSE|EACCES/.exec(error.message)?.[0];
  return code ? Object.assign(error, { code }) : error;
}
