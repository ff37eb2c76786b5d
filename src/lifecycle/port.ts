import { createServer } from 'node:net';

/** PORT cannot be listened on: reported before anything else starts. */
export class PortUnavailableError extends Error {
  constructor(port: number, code: string | undefined) {
    super(
      code === 'EACCES'
        ? `PORT ${port} needs privileges this process does not have: set PORT to a port above 1023`
        : `PORT ${port} is already in use by another process: stop it, or set PORT to a free port`,
    );
  }
}

const UNAVAILABLE = new Set(['EADDRINUSE', 'EACCES']);

/**
 * Throws PortUnavailableError unless `port` can be listened on at `host` now, so a busy port
 * is reported before the database starts rather than after the whole service has. (The
 * real listen reports the same error should the port be taken in between.)
 */
export function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(asPortError(error, port)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** The error of a listen on `port`, as a PortUnavailableError when the port is the problem. */
export function asPortError(error: unknown, port: number): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code && UNAVAILABLE.has(code) ? new PortUnavailableError(port, code) : error;
}
