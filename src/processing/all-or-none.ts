/**
 * Runs jobs of one upload (or one background job) side by side under a signal of their own:
 * when any fails, the others are aborted (their ffmpeg killed) and awaited before the
 * failure is reported, so no tool outlives the request or writes into a work directory
 * being removed.
 */
export async function allOrNone<I extends { signal: AbortSignal }, T extends readonly unknown[]>(
  input: I,
  start: (shared: I) => readonly [...T],
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const sibling = new AbortController();
  const jobs = start({ ...input, signal: AbortSignal.any([input.signal, sibling.signal]) });
  try {
    return (await Promise.all(jobs)) as { -readonly [K in keyof T]: Awaited<T[K]> };
  } catch (error) {
    sibling.abort(error);
    await Promise.allSettled(jobs);
    throw error;
  }
}
