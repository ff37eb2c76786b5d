import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { MediaError } from '../errors.js';
import type { IncomingFile } from '../media/upload.service.js';
import { MinRate } from '../media/streams/min-rate.js';

/** The file part's name (docs/api.md, the upload). */
export const FILE_FIELD = 'file';

/**
 * What the body may hold before the file's first byte (the delimiter line and the part's
 * headers) must stay under this. A part whose headers reach it is refused: the parser
 * would silently truncate them. 16 KiB, like Node's limit on the request's own headers.
 */
export const PART_HEAD_LIMIT = 16 * 1024;

/** The longest file name taken, in bytes (UTF-8); a longer one is refused, not cut. */
export const FILE_NAME_LIMIT = 1024;

/**
 * Slowloris bodies: an upload whose body brings less than this in a window (of time spent
 * waiting for the client; time held up by the bandwidth throttle does not count) is cut.
 * About 270 bytes/s, half Apache mod_reqtimeout's default minimum rate.
 */
export const MIN_BODY_RATE = { minBytes: 8 * 1024, windowMs: 30_000 };

/**
 * The most an ordinary multipart body adds around its one file: delimiters (a boundary is
 * at most 70 characters) and the part's headers (at most PART_HEAD_LIMIT), with room to
 * spare. A declared Content-Length minus this is the least the file can weigh.
 */
export const MULTIPART_OVERHEAD = 96 * 1024;

const invalid = (message: string) => new MediaError('VALIDATION_FAILED', message);
const interrupted = () => invalid('The upload was interrupted');

/**
 * Starts parsing a multipart/form-data body whose only part is the file named "file", and
 * resolves with that part's bytes as soon as they begin. The file stream ends only once
 * the whole body has been parsed with nothing else in it. Any other part (a field before
 * or after the file, whatever its size; a second file), oversized part headers or file
 * name, a malformed or truncated body, or the client going away (before or after this is
 * called) fails the promise or the stream at once, and the body is no longer read (the
 * error filter then discards what is still coming). A body arriving slower than
 * MIN_BODY_RATE fails them too, and its connection is cut: nobody is left to answer.
 */
export function receiveFilePart(req: IncomingMessage): Promise<IncomingFile> {
  // Node may have cut the connection before the handler got here (a parse error after the
  // body, a half-close): its bytes are gone, and no 'close' will come any more.
  if (req.destroyed) return Promise.reject(interrupted());
  let parser: BusboyInstance;
  try {
    if (!/^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '')) throw new Error('not multipart');
    // Every part is taken as a file, so an unexpected one is seen at its headers rather than
    // after its body, and a "file" part sent without a filename is still the file.
    parser = new Busboy({
      headers: req.headers as { 'content-type': string },
      isPartAFile: () => true,
      limits: { headerSize: PART_HEAD_LIMIT },
    });
  } catch {
    return Promise.reject(invalid('Expected a multipart/form-data body'));
  }
  const arrival = new MinRate({ ...MIN_BODY_RATE, tooSlow: () => invalid('The upload is too slow') });
  const file = new PassThrough();
  file.on('error', () => {}); // reported to whoever reads it; nobody may be reading any more
  let started = false;
  let partDone = false;
  let bodyDone = false;
  return new Promise((resolve, reject) => {
    const fail = (error: MediaError) => {
      stopWatching();
      req.unpipe(arrival);
      arrival.unpipe(parser);
      arrival.destroy();
      parser.removeAllListeners().on('error', () => {}); // busboy may still report the torn body
      if (started) file.destroy(error);
      else reject(error);
    };
    const endWhenWhole = () => partDone && bodyDone && file.end();
    const stopWatching = watchFirstHead(req, PART_HEAD_LIMIT, () =>
      fail(invalid(`The part headers are too large (at most ${PART_HEAD_LIMIT} bytes)`)),
    );
    parser.on('file', (name, part, filename) => {
      part.on('error', () => {});
      if (name !== FILE_FIELD || started) {
        part.resume();
        return fail(
          invalid(
            started
              ? 'Exactly one file part is allowed'
              : `Unexpected part "${name}": send only the file part named "${FILE_FIELD}"`,
          ),
        );
      }
      if (Buffer.byteLength(filename ?? '') > FILE_NAME_LIMIT) {
        part.resume();
        return fail(invalid(`The file name is too long (at most ${FILE_NAME_LIMIT} bytes)`));
      }
      started = true;
      part.on('end', () => ((partDone = true), endWhenWhole()));
      part.pipe(file, { end: false });
      resolve({ file, filename: filename ?? '' });
    });
    parser.on('error', () => fail(invalid('The multipart body is malformed or incomplete')));
    parser.on('finish', () =>
      started ? ((bodyDone = true), endWhenWhole()) : fail(invalid(`Missing the file part named "${FILE_FIELD}"`)),
    );
    arrival.on('error', (error: MediaError) => {
      fail(error);
      req.destroy(); // a client this slow is not waiting for an answer
    });
    req.once('close', () => {
      // Whatever Node read of the body is lost once the request is destroyed, complete or not.
      if (!req.readableEnded) fail(interrupted());
      // Read to its end elsewhere (discarded after an early answer): nothing more comes through.
      else if (!arrival.writableEnded) arrival.destroy();
    });
    req.pipe(arrival).pipe(parser);
  });
}

/**
 * Calls `tooLarge` once the body before the end of its first part's headers (the blank
 * line) reaches `max` bytes. Only the first part can be the file; any other is refused.
 * Returns a function that stops watching.
 */
function watchFirstHead(req: IncomingMessage, max: number, tooLarge: () => void): () => void {
  let seen = 0;
  let tail = Buffer.alloc(0);
  const stop = () => req.off('data', watch);
  const watch = (chunk: Buffer) => {
    const window = Buffer.concat([tail, chunk]);
    const blank = window.indexOf('\r\n\r\n');
    const head = blank < 0 ? seen + chunk.length : seen - tail.length + blank;
    if (blank >= 0 || head >= max) stop();
    if (head >= max) return tooLarge();
    seen += chunk.length;
    tail = window.subarray(-3);
  };
  req.on('data', watch);
  return stop;
}
