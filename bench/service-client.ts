import http from 'node:http';
import { type BenchService, postFile, type Transport, tusUpload } from './support.js';

const MB = 1024 * 1024;

/** The service's REST API as the benches call it: multipart uploads, tus, deletes and GETs read to the end. */
export function client(service: BenchService) {
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  return {
    async upload(file: string, token: string, filename = 'bench.zip', via: Transport = postFile) {
      const reply = await via(`${service.base}/api/v1/media/upload`, file, { token, filename });
      if (reply.status !== 201 && reply.status !== 202)
        throw new Error(`upload answered ${reply.status}: ${reply.body}`);
      return { id: JSON.parse(reply.body).id as string, ms: reply.ms };
    },
    tus: (bytes: Buffer, token: string, filename: string) =>
      tusUpload(`${service.base}/api/v1/media/uploads`, bytes, { token, filename, chunkSize: 6 * MB }),
    remove: (id: string, token: string) =>
      fetch(`${service.base}/api/v1/media/${id}`, { method: 'DELETE', headers: auth(token) }),
    get: (path: string, token: string, headers: Record<string, string> = {}) =>
      drain(`${service.base}/api/v1/media/${path}`, { ...auth(token), ...headers }),
    /** The same GET through node:http on `agent`'s kept-alive sockets: a lighter client than fetch. */
    getThrough: (agent: http.Agent, path: string, token: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${service.base}/api/v1/media/${path}`, { agent, headers: auth(token) }, (reply) => {
            let bytes = 0;
            reply.on('data', (chunk: Buffer) => (bytes += chunk.length));
            reply.on('end', () =>
              reply.statusCode === 200 ? resolve(bytes) : reject(new Error(`GET ${path} answered ${reply.statusCode}`)),
            );
          })
          .on('error', reject);
      }),
  };
}

/** GETs `url` and reads the whole body; answers the byte count. */
export async function drain(url: string, headers: Record<string, string> = {}): Promise<number> {
  const reply = await fetch(url, { headers });
  let bytes = 0;
  for await (const chunk of reply.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  if (reply.status !== 200 && reply.status !== 206) throw new Error(`GET ${url} answered ${reply.status}`);
  return bytes;
}
