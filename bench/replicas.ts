import type { ChildProcess } from 'node:child_process';
import type { Measured } from './figures.js';
import { cpuSeconds, pool } from './process-stats.js';
import { client } from './service-client.js';
import { type BenchService, servicesOnOnePostgres } from './support.js';

/**
 * The 200 small uploads (8 users) through one service process at c=8, then split
 * round-robin between two at c=8 and c=16, each run interleaved (the second process idles
 * while the first is measured alone), on one PostgreSQL and one DATA_DIR.
 */
export async function measureReplicas(
  small: string[],
  { dir, env, children, runs }: { dir: string; env: Record<string, string>; children: ChildProcess[]; runs: number },
): Promise<Measured[]> {
  return servicesOnOnePostgres(dir, [env, env], children, async (services, postmaster) => {
    const cpu = () => cpuSeconds(services[0].pid) + cpuSeconds(postmaster);
    const measured: Measured[] = [];
    for (let run = 0; run < runs; run++) {
      // 8 users new to the service for each measurement: a user's second copy of a file is not stored again (200).
      const users = (label: string) =>
        Array.from({ length: 8 }, (_, i) => services[0].token(`replicas-run${run}-${label}-user${i}`));
      const [alone, split8, split16] = ['one', 'two-c8', 'two-c16'].map(users);
      const uploaded: { api: ReturnType<typeof client>; id: string; token: string }[] = [];
      /** Uploads per second of the 200 through `through`, round-robin. */
      const rate = async (through: BenchService[], concurrency: number, tokens: string[]) => {
        const apis = through.map(client);
        const started = Date.now();
        await pool(small, concurrency, async (file, i) => {
          const [api, token] = [apis[i % apis.length], tokens[i % 8]];
          uploaded.push({ api, token, id: (await api.upload(file, token, `f${i}.zip`)).id });
        });
        return small.length / ((Date.now() - started) / 1000);
      };
      const cpuBefore = cpu();
      const one = await rate(services.slice(0, 1), 8, alone);
      const m: Measured = { oneReplicaRate: one, oneReplicaCpu: ((cpu() - cpuBefore) * 1000) / small.length };
      m.twoReplicasRate8 = await rate(services, 8, split8);
      m.twoReplicasRate16 = await rate(services, 16, split16);
      m.twoReplicasRatio8 = m.twoReplicasRate8 / one;
      m.twoReplicasRatio16 = m.twoReplicasRate16 / one;
      measured.push(m);
      await pool(uploaded, 8, ({ api, id, token }) => api.remove(id, token));
      console.error(`replicas: run ${run + 1} of ${runs} done`);
    }
    return measured;
  });
}
