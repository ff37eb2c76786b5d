import { createHash } from 'node:crypto';
import { query } from '../support/database';
import { signToken } from '../support/app';
import { Deployment, type Replica } from '../support/deployment';
import { upload } from '../support/http';
import { picture } from '../support/pictures';
import { below, seededRandom, textFile } from '../support/random';

const USERS = 50;
const UPLOADS_EACH = 4;
const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Bounded load over two API replicas (processes) on one PostgreSQL, Redis and bucket: 50 users
 * each sending 4 uploads at once (200 in flight), every user's split between the replicas.
 */
describe('load: 50 users × 4 uploads at once over two replicas', () => {
  let d: Deployment;
  let replicas: Replica[];
  beforeAll(async () => {
    d = await Deployment.start();
    const env = { UPLOAD_CONCURRENCY_PER_USER: String(UPLOADS_EACH) };
    replicas = [await d.replica('all', env), await d.replica('all', env)];
  }, 180_000);
  afterAll(() => d?.stop(), 60_000);

  it('answers no 5xx and resets no connection; every 201 downloads with its sha256, and there is one row per 201', async () => {
    const random = seededRandom(14);
    const sent = await Promise.all(
      Array.from({ length: USERS }, async (_, user) => {
        const token = await signToken(`load-${user}`);
        // Three notes of 1 KB to 512 KB (stored as sent) and a photo (re-encoded), per user.
        const files = await Promise.all(
          Array.from({ length: UPLOADS_EACH }, async (_, i) =>
            i === 0
              ? { name: 'p.png', bytes: await picture(1000 + user), type: 'image/png' }
              : {
                  name: `n${i}.txt`,
                  bytes: textFile(user * 10 + i, 1024 + below(random, 511 * 1024)),
                  type: 'text/plain',
                },
          ),
        );
        return { token, files };
      }),
    );
    const outcomes = await Promise.all(
      sent.flatMap(({ token, files }, user) =>
        files.map(async (file, i) => {
          const replica = replicas[(user + i) % 2];
          try {
            return { token, file, replica, reply: await upload(replica.base, token, file) };
          } catch (error) {
            return { token, file, replica, error: String((error as Error).cause ?? error) }; // a reset or refused connection
          }
        }),
      ),
    );

    expect(outcomes.filter((o) => 'error' in o).map((o) => o.error)).toEqual([]);
    const failed = outcomes.filter((o) => o.reply!.status >= 500);
    // What the replicas logged, when a 5xx is found: the failure says why.
    if (failed.length)
      console.error(
        failed.map((o) => JSON.stringify(o.reply!.json)).join('\n'),
        replicas
          .map((r) =>
            r.service
              .output()
              .split('\n')
              .filter((line) => /"level":(50|60)/.test(line))
              .slice(0, 5)
              .join('\n'),
          )
          .join('\n'),
      );
    expect(failed.map((o) => o.reply!.status)).toEqual([]);
    const created = outcomes.filter((o) => o.reply!.status === 201);
    // Nothing here is over a limit (4 in flight per user, quota, daily count): every upload is stored.
    expect(created).toHaveLength(USERS * UPLOADS_EACH);

    for (const [i, { token, file, reply }] of created.entries()) {
      const other = replicas[i % 2];
      const download = await fetch(`${other.base}/api/v1/media/${reply!.json.id}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const body = Buffer.from(await download.arrayBuffer());
      expect([download.status, sha256(body)]).toEqual([200, reply!.json.sha256]);
      if (file.type === 'text/plain') expect(reply!.json.sha256).toBe(sha256(file.bytes));
    }
    expect((await query(d.databaseUrl, 'SELECT id FROM media')).length).toBe(created.length);
    await d.expectNothingLostOrLeft();
  }, 600_000);
});
