import type { ProcessInput } from './processor.js';

/**
 * Runs two jobs of one upload side by side under a signal of their own: when either fails,
 * the other is aborted (its ffmpeg killed) and awaited before the failure is reported, so
 * no tool outlives the request or writes into a work directory being removed.
 */
export async function bothOrNeither<A, B>(
  input: ProcessInput,
  start: (shared: ProcessInput) => [Promise<A>, Promise<B> | B],
): Promise<[A, B]> {
  const sibling = new AbortController();
  const jobs = start({ ...input, signal: AbortSignal.any([input.signal, sibling.signal]) });
  try {
    return await Promise.all(jobs);
  } catch (error) {
    sibling.abort(error);
    await Promise.allSettled(jobs);
    throw error;
  }
}
