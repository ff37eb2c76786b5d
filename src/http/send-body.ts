import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Sends the body: a buffer (a small file, already authenticated) in one write with the
 * headers; a stream once its first authenticated bytes are in, so a blob that fails at once
 * is a clean error response, and a failure later cuts the connection.
 */
export async function sendBody(body: Readable | Buffer, res: ServerResponse): Promise<void> {
  if (Buffer.isBuffer(body)) return void res.end(body);
  body.on('error', () => {}); // reported through firstChunkReady or pipeline; never unhandled in between
  await firstChunkReady(body);
  await pipeline(body, res);
}

function firstChunkReady(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stream.off('readable', onReadable).off('end', onEnd).off('error', done);
      if (error) reject(error);
      else resolve();
    };
    const onReadable = () => {
      const chunk = stream.read();
      if (chunk === null) return;
      stream.unshift(chunk);
      done();
    };
    const onEnd = () => done();
    stream.on('readable', onReadable).once('end', onEnd).once('error', done);
  });
}
