/**
 * A typed client of media-service's REST API: openapi-fetch over the types that
 * openapi-typescript generated from GET /api/docs-json (schema.d.ts; `npm run client`
 * regenerates them). Every route is `client.GET | POST | DELETE | HEAD(path, init)`, its
 * parameters, body, answers and error codes typed; errors come back as `error`, not thrown.
 */
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths };
export type Media = components['schemas']['MediaDto'];
export type Storage = components['schemas']['StorageDto'];
/** Every error body: `{ statusCode, code, message, requestId }`; each route narrows `code` to what it can answer. */
export type ApiError = components['schemas']['ErrorDto'];
export type MediaClient = Client<paths>;

export interface MediaClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** The service's origin, e.g. http://localhost:3000 (the paths start with /api/v1). */
  baseUrl: string;
  /** The bearer token, or a function that gives the current one: it is asked before every request, as tokens expire. */
  token: string | (() => string | Promise<string>);
}

export function createMediaClient({ token, ...options }: MediaClientOptions): MediaClient {
  const client = createClient<paths>(options);
  client.use(bearer(token));
  return client;
}

function bearer(token: MediaClientOptions['token']): Middleware {
  return {
    async onRequest({ request }) {
      request.headers.set('Authorization', `Bearer ${typeof token === 'string' ? token : await token()}`);
      return request;
    },
  };
}

/**
 * openapi-fetch sends a body as JSON; an upload is multipart/form-data with one part,
 * `file` (a File keeps its name, which becomes `originalName`):
 * `client.POST('/api/v1/media/upload', { body: { file }, bodySerializer: multipart })`.
 */
export function multipart(body: Record<string, Blob | string>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(body)) form.append(name, value);
  return form;
}
