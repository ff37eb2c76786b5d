import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { Measured } from './figures.js';
import { pool } from './process-stats.js';
import { type BenchService, postFile, servicesOnOnePostgres } from './support.js';

/**
 * What tracing costs (docs/operations.md, "Traces"): the 200 small uploads (8 users, c=8)
 * through a service with OTEL_EXPORTER_OTLP_ENDPOINT set — its spans exported by OTLP/HTTP
 * to a sink here that accepts them — and through one without, on one PostgreSQL and one
 * DATA_DIR (servicesOnOnePostgres), the two measured one after the other in each run, in alternating order.
 */
export async function measureTracing(
  small: string[],
  work: string,
  children: ChildProcess[],
  runs: number,
  env: Record<string, string>,
): Promise<Measured[]> {
  let exported = 0;
  const sink = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (exported += chunk.length));
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const envs = [env, { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }];
  try {
    return await servicesOnOnePostgres(join(work, 'tracing'), envs, children, async ([off, on]) => {
      const measured: Measured[] = [];
      for (let run = 0; run < runs; run++) {
        const rate = async (service: BenchService, label: string) => {
          const tokens = Array.from({ length: 8 }, (_, i) => service.token(`tracing-run${run}-${label}-user${i}`));
          const started = Date.now();
          await pool(small, 8, async (file, i) => {
            const reply = await postFile(`${service.base}/api/v1/media/upload`, file, { token: tokens[i % 8] });
            if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body}`);
          });
          return small.length / ((Date.now() - started) / 1000);
        };
        const order = run % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
        const rates: Record<string, number> = {};
        for (const which of order) rates[which] = await rate(which === 'on' ? on : off, which);
        measured.push({ tracingOffRate: rates.off, tracingOnRate: rates.on, tracingRatio: rates.on / rates.off });
        console.error(`tracing: run ${run + 1} of ${runs} done (${exported} bytes of spans exported so far)`);
      }
      if (exported === 0) throw new Error('tracing on exported no span: the figure would measure nothing');
      return measured;
    });
  } finally {
    sink.close();
  }
}
