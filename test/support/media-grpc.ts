import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

const PROTO = join(__dirname, '..', '..', 'proto', 'media.proto');

export interface RpcOutcome<T = any> {
  response?: T;
  error?: grpc.ServiceError;
  /** The server's initial metadata (x-request-id). */
  metadata?: grpc.Metadata;
}

/** A real gRPC client of proto/media.proto, as messaging-service would hold one. */
export class MediaGrpcClient {
  private readonly client: grpc.Client & Record<string, (...args: any[]) => unknown>;

  constructor(
    address: string,
    private readonly apiToken?: string,
  ) {
    const definition = loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true });
    const Service = (grpc.loadPackageDefinition(definition) as any).media.v1
      .MediaService as grpc.ServiceClientConstructor;
    this.client = new Service(address, grpc.credentials.createInsecure()) as never;
  }

  /** Calls `method`; never throws for a gRPC status: the error is in the outcome. */
  call<T = any>(
    method: string,
    request: object,
    options: { requestId?: string; token?: string; traceparent?: string } = {},
  ): Promise<RpcOutcome<T>> {
    const metadata = new grpc.Metadata();
    const token = options.token ?? this.apiToken;
    if (token) metadata.set('authorization', `Bearer ${token}`);
    if (options.requestId) metadata.set('x-request-id', options.requestId);
    if (options.traceparent) metadata.set('traceparent', options.traceparent);
    return new Promise((resolve) => {
      let received: grpc.Metadata | undefined;
      const call = this.client[method](
        request,
        metadata,
        { deadline: Date.now() + 30_000 },
        (error: grpc.ServiceError | null, response: T) =>
          resolve(error ? { error, metadata: received ?? error.metadata } : { response, metadata: received }),
      ) as grpc.ClientUnaryCall;
      call.on('metadata', (m) => (received = m));
    });
  }

  /** Like call, but the call must succeed. */
  async ok<T = any>(method: string, request: object): Promise<T> {
    const outcome = await this.call<T>(method, request);
    if (outcome.error) throw new Error(`${method} failed: ${grpc.status[outcome.error.code]} ${outcome.error.details}`);
    return outcome.response as T;
  }

  close(): void {
    this.client.close();
  }
}

export const { status } = grpc;
