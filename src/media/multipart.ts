import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import busboy from 'busboy';
import { MediaError } from '../errors.js';

export interface ReceivedPart {
  filename: string;
  declaredType: string;
}

export interface ReceiveOptions {
  /** Where the file part is written (created 0600, must not exist). */
  path: string;
  /** Applied to the file part, in order, before it is written. */
  transforms: Transform[];
  /** A backstop for busboy itself; the real limit is enforced by a transform. */
  maxFileBytes: number;
}

const invalid = (message: string) => new MediaError('VALIDATION_FAILED', message);

/**
 * Streams the one file part named "file" of a multipart/form-data request to disk.
 * Any other part, a second file, a missing file or a malformed body is a 400. On
 * failure the request is unpiped, so nothing more is read from the client.
 */
export async function receiveSingleFile(req: IncomingMessage, options: ReceiveOptions): Promise<ReceivedPart> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { fileSize: options.maxFileBytes + 1, fieldSize: 1024 } });
  } catch {
    throw invalid('Expected a multipart/form-data body');
  }
  let part: Promise<ReceivedPart> | undefined;
  // Any part but the one file ends the request at once: nothing after it is read.
  const finished = new Promise<void>((resolve, reject) => {
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || part) {
        stream.resume();
        return reject(invalid(name !== 'file' ? `Unexpected file part "${name}": the part must be named "file"` : 'Exactly one file part is allowed'));
      }
      part = writePart(stream, info, options);
      part.catch(reject);
    });
    parser.on('field', (name) => reject(invalid(`Unexpected field "${name}": send only the file part`)));
    parser.on('error', () => reject(invalid('The multipart body is malformed or incomplete')));
    parser.on('close', resolve);
  });
  req.on('aborted', () => parser.destroy(invalid('The upload was interrupted')));
  req.pipe(parser);
  try {
    await finished;
    if (!part) throw invalid('Missing the file part named "file"');
    return await part;
  } catch (error) {
    req.unpipe(parser);
    parser.on('error', () => {}); // busboy may still report the torn body after we answered
    await part?.catch(() => {});
    throw error;
  }
}

async function writePart(stream: Readable, info: busboy.FileInfo, options: ReceiveOptions): Promise<ReceivedPart> {
  await pipeline([stream, ...options.transforms, createWriteStream(options.path, { flags: 'wx', mode: 0o600 })]);
  if ((stream as Readable & { truncated?: boolean }).truncated) throw new MediaError('FILE_TOO_LARGE');
  return { filename: info.filename ?? '', declaredType: info.mimeType };
}
