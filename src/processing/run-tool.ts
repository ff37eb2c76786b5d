import { execFile, type ExecFileException } from 'node:child_process';
import { promisify } from 'node:util';
import { MediaError } from '../errors.js';

const run = promisify(execFile);

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
 * Runs an external program with an argument array (never a shell string), killed with
 * SIGKILL on timeout, abort or too much output (execFile's own options), so a hostile file
 * can hang neither a request nor a worker. Resolves with stdout; anything else is the
 * file's fault (CORRUPT_FILE), but an abort, which rejects with the signal's reason, and a
 * program that is not installed.
 */
export async function runTool(command: string, args: string[], options: ToolOptions): Promise<Buffer> {
  const { timeoutMs, signal, maxOutputBytes = 16 * 1024 * 1024 } = options;
  if (signal.aborted) throw signal.reason;
  try {
    const { stdout } = await run(command, args, {
      env: TOOL_ENV,
      encoding: 'buffer',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      signal,
      maxBuffer: maxOutputBytes,
    });
    return stdout;
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const failure = error as ExecFileException & { stderr?: Buffer };
    if (failure.code === 'ENOENT') throw error; // not installed: the service's fault, a 500
    if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
      throw new MediaError('CORRUPT_FILE', 'The file produced more output than allowed');
    if (failure.killed)
      throw new MediaError('CORRUPT_FILE', `The file could not be processed in ${timeoutMs / 1000} s`);
    const stderr = failure.stderr?.toString('utf8').trim().slice(-2000) ?? '';
    throw new MediaError('CORRUPT_FILE', undefined, {
      cause: new Error(`${command} exited ${failure.code}: ${stderr}`),
    });
  }
}
