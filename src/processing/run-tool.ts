import { spawn } from 'node:child_process';
import { MediaError } from '../errors.js';

/** Tools come from Debian's packages: a fixed PATH and nothing else of our environment (no secrets). */
const TOOL_ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8' };

export interface ToolOptions {
  /** Killed (SIGKILL) past this many milliseconds. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Most bytes of stdout kept (more fails the run). */
  maxOutputBytes?: number;
}

/**
 * Runs an external program with an argument array (never a shell string), killing it on
 * timeout or abort, so a hostile file can hang neither a request nor a worker. Resolves
 * with stdout; a non-zero exit is a CORRUPT_FILE (the program could not read the file).
 */
export function runTool(command: string, args: string[], options: ToolOptions): Promise<Buffer> {
  const { timeoutMs, signal, maxOutputBytes = 16 * 1024 * 1024 } = options;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: TOOL_ENV });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let failure: unknown;
    const stop = (reason: unknown) => {
      failure ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(new MediaError('CORRUPT_FILE', `The file could not be processed in ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = () => stop(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxOutputBytes) return stop(new MediaError('CORRUPT_FILE', 'The file produced more output than allowed'));
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.on('error', (error) => stop(error));
    child.on('close', (code) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      if (code !== 0) return reject(new MediaError('CORRUPT_FILE', undefined, { cause: new Error(`${command} exited ${code}: ${stderr.trim()}`) }));
      resolve(Buffer.concat(out));
    });
  });
}
