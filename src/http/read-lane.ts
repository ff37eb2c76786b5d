import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import type { Caller } from '../access/caller.js';
import type { AuthenticatedRequest, Authenticator } from './auth/authenticator.js';
import type { RateLimitGuard } from './auth/rate-limit.guard.js';
import { answerError } from './error.filter.js';
import { answerJson } from './json-answer.js';
import { MEDIA_ROUTES, type MediaController } from './media.controller.js';

type Step = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** What the lane sets on a request, as Express and Nest would: its route (metrics, spans), its id param (log line). */
type LaneRequest = AuthenticatedRequest & { route?: { path: string }; params?: Record<string, string> };

/** The reads the lane serves: what follows `/api/v1/media/{id}`, the route's pattern, and whether a signed URL opens it. */
const READS = {
  '': { route: MEDIA_ROUTES.file, signedUrlAccepted: true },
  '/metadata': { route: MEDIA_ROUTES.metadata, signedUrlAccepted: false },
  '/preview': { route: MEDIA_ROUTES.preview, signedUrlAccepted: true },
} as const;
type Read = keyof typeof READS;

/** One read as the lane took it: the media id, which read, and the query (size, token). */
interface Asked {
  id: string;
  read: Read;
  query: ParsedUrlQuery;
}

/** What the lane runs a read through: Nest's middleware functions in their order, then the guards' and the controller's own code. */
export interface LaneParts {
  steps: Step[];
  authenticator: Authenticator;
  rateLimit: RateLimitGuard;
  controller: MediaController;
}

/** The canonical form of a read: an id of letters, digits and dashes (no percent-encoding), then nothing, /metadata or /preview. */
const READ_PATH = /^\/api\/v1\/media\/([A-Za-z0-9-]+)(|\/metadata|\/preview)$/;

/**
 * The read lane: GET and HEAD of a media's metadata, file and preview (the routes clients
 * call most) served by plain handlers in front of Express, which for these paths cost more
 * than the work itself (its router walks every route; Nest wraps each request in an
 * execution context). The lane runs the same steps in the same order as the general way
 * (request id, metrics and span; CORS; the request line; the bearer token or signed URL;
 * the rate limit), then the controller's own method, and answers errors through the same
 * `answerError`. Anything but the canonical form of these reads (another method, a body, a
 * percent-encoded or trailing-slash path, `/media/storage`) goes the general way, where
 * the same controller methods answer it.
 */
export class ReadLane {
  constructor(private readonly parts: LaneParts) {}

  /** Serves `req` and answers true when it is one of the lane's reads; false: it is not touched. */
  take(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || hasBody(req)) return false;
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const match = READ_PATH.exec(queryAt < 0 ? url : url.slice(0, queryAt));
    if (!match || match[1] === 'storage') return false;
    const [, id, read] = match as unknown as [string, string, Read];
    const asked: Asked = { id, read, query: queryAt < 0 ? {} : parseQuery(url.slice(queryAt + 1)) };
    const lane = req as LaneRequest;
    this.run(0, lane, res, () => {
      // Set where Express sets them, after the middleware (whose request line starts without the id).
      lane.route = { path: READS[read].route };
      lane.params = { id };
      this.serve(lane, res, asked).catch((error: unknown) => answerError(error, lane, res));
    });
    return true;
  }

  private run(index: number, req: IncomingMessage, res: ServerResponse, last: () => void): void {
    const step = this.parts.steps[index];
    if (!step) return last();
    step(req, res, () => this.run(index + 1, req, res, last));
  }

  private async serve(req: LaneRequest, res: ServerResponse, { id, read, query }: Asked): Promise<void> {
    const { authenticator, rateLimit, controller } = this.parts;
    const admitted = authenticator.admit(req, query.token, READS[read].signedUrlAccepted);
    const caller: Caller = admitted instanceof Promise ? await admitted : admitted;
    await rateLimit.count(caller);
    if (read === '/metadata') return answerJson(req, res, { status: 200, body: await controller.metadata(id, caller) });
    if (read === '/preview') return controller.preview(id, query, caller, req, res);
    return controller.download(id, caller, req, res);
  }
}

/** A request with a body goes the general way (its JSON body parser answers a bad one). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
