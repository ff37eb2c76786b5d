import { allOrNone } from '../../../src/processing/all-or-none';
import type { ProcessInput } from '../../../src/processing/processor';

const input = (signal = new AbortController().signal) => ({ signal }) as ProcessInput;

/** A job that runs until its signal aborts, then records that it stopped. */
const untilAborted = (signal: AbortSignal, log: string[]) =>
  new Promise<string>((_resolve, reject) =>
    signal.addEventListener('abort', () => setTimeout(() => (log.push('sibling stopped'), reject(signal.reason)), 20)),
  );

describe('allOrNone', () => {
  it('returns every result, in order', async () => {
    expect(await allOrNone(input(), () => [Promise.resolve(1), Promise.resolve('two')])).toEqual([1, 'two']);
    expect(await allOrNone(input(), () => [Promise.resolve(1), undefined, Promise.resolve(3)])).toEqual([
      1,
      undefined,
      3,
    ]);
  });

  it('aborts the other jobs when one fails, and reports the failure once they have stopped', async () => {
    const log: string[] = [];
    const failure = new Error('frame does not decode');
    const run = allOrNone(input(), (shared) => [
      untilAborted(shared.signal, log),
      Promise.reject(failure),
      untilAborted(shared.signal, log),
    ]);
    await expect(run).rejects.toBe(failure);
    expect(log).toEqual(['sibling stopped', 'sibling stopped']);
  });

  it('passes the request signal on', async () => {
    const request = new AbortController();
    const log: string[] = [];
    const run = allOrNone(input(request.signal), (shared) => [
      untilAborted(shared.signal, log),
      untilAborted(shared.signal, log),
    ]);
    request.abort(new Error('client gone'));
    await expect(run).rejects.toThrow('client gone');
    expect(log).toEqual(['sibling stopped', 'sibling stopped']);
  });
});
