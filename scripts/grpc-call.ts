/**
 * npm run -s grpc -- <Method> '<JSON request>' [--address host:port] [--deadline seconds]
 * Calls one RPC of the service's gRPC API (proto/media.proto) and prints the response as
 * JSON, or the gRPC status and message. GRPC_API_TOKEN, when set, is sent as the bearer token.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from '../src/common/proto-path.js';

const USAGE = `usage: npm run -s grpc -- <Method> '<JSON request>' [--address host:port] [--deadline seconds]

Calls one RPC of media.v1.MediaService (proto/media.proto) on --address (default
127.0.0.1:$GRPC_PORT, or 127.0.0.1:50051) and prints the response as JSON. Fields are
snake_case as in the proto. GRPC_API_TOKEN, when set, is sent as "authorization: Bearer".
A call not answered within --deadline seconds (default 30) ends with DEADLINE_EXCEEDED.

  e.g. npm run -s grpc -- GetMedia '{"acting_user_id":"alice","media_ids":["<id>"]}'
       npm run -s grpc -- GrantAccess '{"acting_user_id":"alice","media_ids":["<id>"],"conversation_id":"c1","user_ids":["bob"]}'`;

/** The usage on stderr (after what was wrong, if anything), answering `code`. */
function usage(code: number, problem?: string): Promise<number> {
  process.stderr.write(`${problem ? `${problem}\n` : ''}${USAGE}\n`);
  return Promise.resolve(code);
}

function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { address: { type: 'string' }, deadline: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usage(2, (error as Error).message); // an unknown option, or one without its value
  }
  const { positionals, values } = parsed;
  const seconds = Number(values.deadline ?? 30);
  if (values.help || positionals.length !== 2 || !(seconds > 0)) return usage(values.help ? 0 : 2);
  const [method, json] = positionals;
  const definition = loadSync(protoPath('media', __dirname), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
  });
  const Service = (
    grpc.loadPackageDefinition(definition) as unknown as {
      media: { v1: { MediaService: grpc.ServiceClientConstructor } };
    }
  ).media.v1.MediaService;
  if (!Object.keys(Service.service).includes(method)) {
    process.stderr.write(`unknown method ${method}; one of: ${Object.keys(Service.service).join(', ')}\n`);
    return Promise.resolve(2);
  }
  let request: unknown;
  try {
    request = JSON.parse(json);
  } catch {
    process.stderr.write('the request is not JSON\n');
    return Promise.resolve(2);
  }
  const address = values.address ?? `127.0.0.1:${process.env.GRPC_PORT || 50051}`;
  const client = new Service(address, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  > &
    grpc.Client;
  const metadata = new grpc.Metadata();
  if (process.env.GRPC_API_TOKEN) metadata.set('authorization', `Bearer ${process.env.GRPC_API_TOKEN}`);
  const deadlineMs = seconds * 1000;
  return new Promise((resolve) => {
    // grpc-js answers the deadline itself; this is the script's own bound, one second later, so
    // that an answer lost inside the library cannot leave a person's terminal (or a CI job) waiting.
    const bound = setTimeout(() => {
      process.stderr.write(`DEADLINE_EXCEEDED: no answer from ${address} within ${seconds} s\n`);
      resolve(1);
    }, deadlineMs + 1000);
    client[method](
      request,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (error: grpc.ServiceError | null, response: unknown) => {
        clearTimeout(bound);
        client.close();
        if (error) {
          process.stderr.write(`${grpc.status[error.code]}: ${error.details}\n`);
          resolve(1);
        } else {
          process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
          resolve(0);
        }
      },
    );
  });
}

// The answer is printed: exit, rather than wait for the channel's connections to wind down.
main().then((code) => process.stdout.write('', () => process.exit(code)));
