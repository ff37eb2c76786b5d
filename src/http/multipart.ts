import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { MediaError } from '../errors.js';
import type { IncomingFile } from '../media/upload.service.js';

/** The file part's name (CONTRACT §2). */
export const FILE_FIELD = 'file';

/**
 * The most an ordinary multipart body adds around its one file: delimiters (a boundary is
 * at most 70 characters) and the part's headers (the parser keeps at most 80 KiB of them).
 * A declared Content-Length minus this is the least the file can weigh.
 */
export const MULTIPART_OVERHEAD = 96 * 1024;

const invalid = (message: string) => new MediaError('VALIDATION_FAILED', message);

/**
 * Starts parsing a multipart/form-data body whose only part is the file named "file", and
 * resolves with that part's bytes as soon as they begin. The file stream ends only once
 * the whole body has been parsed with nothing else in it. Any other part (a field before
 * or after the file, whatever its size; a second file), a malformed or truncated body, or
 * the client going away fails the promise or the stream at once, and the body is no
 * longer read (the error filter then discards what is still coming).
 */
export function receiveFilePart(req: IncomingMessage): Promise<IncomingFile> {
  let parser: BusboyInstance;
  try {
    if (!/^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '')) throw new Error('not multipart');
    // Every part is taken as a file, so an unexpected one is seen at its headers rather than
    // after its body, and a "file" part sent without a filename is still the file.
    parser = new Busboy({ headers: req.headers as { 'content-type': string }, isPartAFile: () => true });
  } catch {
    return Promise.reject(invalid('Expected a multipart/form-data body'));
  }
  const file = new PassThrough();
  file.on('error', () => {}); // reported to whoever reads it; nobody may be reading any more
  let started = false;
  let partDone = false;
  let bodyDone = false;
  return new Promise((resolve, reject) => {
    const fail = (error: MediaError) => {
      req.unpipe(parser);
      parser.removeAllListeners().on('error', () => {}); // busboy may still report the torn body
      if (started) file.destroy(error);
      else reject(error);
    };
    const endWhenWhole = () => partDone && bodyDone && file.end();
    parser.on('file', (name, part, filename) => {
      part.on('error', () => {});
      if (name !== FILE_FIELD || started) {
        part.resume();
        return fail(invalid(started ? 'Exactly one file part is allowed' : `Unexpected part "${name}": send only the file part named "${FILE_FIELD}"`));
      }
      started = true;
      part.on('end', () => ((partDone = true), endWhenWhole()));
      part.pipe(file, { end: false });
      resolve({ file, filename: filename ?? '' });
    });
    parser.on('error', () => fail(invalid('The multipart body is malformed or incomplete')));
    parser.on('finish', () => (started ? ((bodyDone = true), endWhenWhole()) : fail(invalid(`Missing the file part named "${FILE_FIELD}"`))));
    req.once('close', () => req.complete || fail(invalid('The upload was interrupted')));
    req.pipe(parser);
  });
}
