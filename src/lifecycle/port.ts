import { createServer } from 'node:net';

/** PORT (or GRPC_PORT) cannot be listened on: reported before anything else starts. */
export class PortUnavailableError extends Error {
  constructor(port: number, code: string | undefined, variable = 'PORT') {
    super(
      code === 'EACCES'
        ? `${variable} ${port} needs privileges this process does not have: set ${variable} to a port above 1023`
        : `${variable} ${port} is already in use by another process: stop it, or set ${variable} to a free port`,
    );
  }
}

const UNAVAILABLE = new Set(['EADDRINUSE', 'EACCES']);

/**
 * Throws PortUnavailableError unless `port` can be listened on at `host` now, so a busy port
 * is reported before the database starts rather than after the whole service has. (The
 * real listen reports the same error should the port be taken in between.)
 */
export function assertPortFree(port: number, host: string, variable = 'PORT'): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(asPortError(error, port, variable)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** The error of a listen on `port`, as a PortUnavailableError when the port is the problem. */
export function asPortError(error: unknown, port: number, variable = 'PORT'): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code && UNAVAILABLE.has(code) ? new PortUnavailableError(port, code, variable) : error;
}
