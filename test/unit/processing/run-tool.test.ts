import { runTool } from '../../../src/processing/run-tool';

/** What runTool answers for a command: its output, or the error's code and message. */
async function outcome(
  command: string,
  args: string[],
  options: { timeoutMs?: number; maxOutputBytes?: number; signal?: AbortSignal } = {},
) {
  try {
    const out = await runTool(command, args, {
      timeoutMs: options.timeoutMs ?? 10_000,
      signal: options.signal ?? new AbortController().signal,
      maxOutputBytes: options.maxOutputBytes,
    });
    return { out: out.toString() };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return { code, message };
  }
}

describe('runTool', () => {
  it.each<[string, string, string[], object, object]>([
    ['stdout of a program that succeeds', 'printf', ['hello'], {}, { out: 'hello' }],
    ["a non-zero exit is the file's fault", 'false', [], {}, { code: 'CORRUPT_FILE' }],
    [
      'past the time limit: killed',
      'sleep',
      ['30'],
      { timeoutMs: 200 },
      { code: 'CORRUPT_FILE', message: 'The file could not be processed in 0.2 s' },
    ],
    [
      'more output than allowed: killed',
      'head',
      ['-c', '2000000', '/dev/zero'],
      { maxOutputBytes: 1_000_000 },
      { code: 'CORRUPT_FILE', message: 'The file produced more output than allowed' },
    ],
    ["a program that is not installed is not the file's fault", 'no-such-tool-here', [], {}, { code: 'ENOENT' }],
  ])('%s', async (_label, command, args, options, expected) => {
    expect(await outcome(command, args, options)).toMatchObject(expected);
  });

  it('rejects with the abort reason when the request goes away', async () => {
    const controller = new AbortController();
    const running = outcome('sleep', ['30'], { signal: controller.signal });
    controller.abort(Object.assign(new Error('client went away'), { code: 'ABORTED' }));
    expect(await running).toEqual({ code: 'ABORTED', message: 'client went away' });
  });

  it('runs with a fixed PATH and none of our environment', async () => {
    process.env.MEDIA_TEST_SECRET = 'do-not-leak';
    try {
      const { out } = (await outcome('env', [])) as { out: string };
      expect(out).not.toContain('do-not-leak');
      expect(out).toContain('PATH=/usr/bin:/bin');
    } finally {
      delete process.env.MEDIA_TEST_SECRET;
    }
  });
});
