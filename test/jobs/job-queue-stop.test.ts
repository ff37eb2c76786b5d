import { JobQueue } from '../../src/jobs/job-queue';
import { Metrics } from '../../src/observability/metrics';
import { loadConfig } from '../../src/config/load-config';
import { createTestDatabase, query } from '../support/database';

/** The connections the queue holds on `url`'s database (pg-boss names them). */
const queueConnections = async (url: string) =>
  Number(
    (
      await query(
        url,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'media-service jobs' AND datname = current_database()",
      )
    )[0].n,
  );

/** Whether `promise` has settled by now (one turn of the microtask queue). */
const isSettled = (promise: Promise<unknown>) =>
  Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ]);

describe('the job queue stopped while it is still starting', () => {
  it('is fully stopped when onModuleDestroy resolves: the start under way is waited for, nothing of it keeps running', async () => {
    const url = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: url, DATA_DIR: process.env.TMPDIR ?? '/tmp' });
    for (let round = 0; round < 5; round++) {
      const queue = new JobQueue(config, new Metrics());
      queue.onModuleInit();
      // Destroyed at once, as a test app or a process told to stop right after start-up is.
      await queue.onModuleDestroy();
      expect(await isSettled((queue as unknown as { started: Promise<unknown> }).started)).toBe(true);
      expect(await queueConnections(url)).toBe(0);
      // Workers asked for after the stop are not started.
      await queue.work('finish-processing', 1, async () => {});
      expect(await queueConnections(url)).toBe(0);
    }
  });

  it('stops at once while it waits to retry a database that is down', async () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none',
      DATA_DIR: process.env.TMPDIR ?? '/tmp',
    });
    const queue = new JobQueue(config, new Metrics());
    queue.onModuleInit();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the first attempt fails, the wait to retry begins
    await queue.onModuleDestroy();
    expect(await isSettled((queue as unknown as { started: Promise<unknown> }).started)).toBe(true);
  });
});
