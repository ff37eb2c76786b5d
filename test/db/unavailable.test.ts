import { createServer, type Server } from 'node:net';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client';
import { isDatabaseUnavailable } from '../../src/db/unavailable';
import { createTestDatabase } from '../support/database';
import { waitFor } from '../support/wait';

/** The rejection of `work`, which must reject. */
async function failure(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** Real errors from Prisma (with its pg adapter) and node-postgres, produced by real failures. */
describe('isDatabaseUnavailable', () => {
  const clients: PrismaClient[] = [];
  const servers: Server[] = [];
  let url: string;
  let admin: pg.Client;
  const prismaFor = (connectionString: string) => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString, max: 2 }) });
    clients.push(client);
    return client;
  };
  /** Terminates (57P01) the backends running a statement matching `where`, once there is one. */
  const terminate = async (where: string) => {
    const sql = `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE ${where} AND pid <> pg_backend_pid()`;
    await waitFor(async () => (await admin.query(sql)).rows.some((row) => row.done), 10_000);
  };
  /** A TCP server on 127.0.0.1 that cuts every connection on its first bytes: reset (RST) or end (FIN). */
  const hangUp = async (how: 'reset' | 'end') => {
    const server = createServer((socket) =>
      socket.once('data', () => (how === 'reset' ? socket.resetAndDestroy() : socket.end())),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return `postgresql://media:x@127.0.0.1:${(server.address() as { port: number }).port}/media`;
  };
  const closedPort = 'postgresql://media:x@127.0.0.1:9/media'; // nothing listens on port 9 here

  beforeAll(async () => {
    url = await createTestDatabase();
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.$disconnect()));
    await admin.end();
    servers.forEach((server) => server.close());
  });

  describe('is true for a lost or refused connection', () => {
    it('57P01 (admin shutdown) on a raw query: Prisma P2010', async () => {
      const prisma = prismaFor(url);
      const pending = failure(prisma.$queryRaw`SELECT pg_sleep(30) AS "p2010-probe"`);
      await terminate(`query LIKE '%p2010-probe%'`);
      const error = await pending;
      expect(error).toMatchObject({ code: 'P2010', meta: { driverAdapterError: { cause: { code: '57P01' } } } });
      expect(isDatabaseUnavailable(error)).toBe(true);
    });

    it('57P01 on a model query: Prisma P2039', async () => {
      const prisma = prismaFor(url);
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE media IN ACCESS EXCLUSIVE MODE');
        const pending = failure(prisma.media.findMany());
        await terminate(`wait_event_type = 'Lock' AND query LIKE '%media%'`);
        const error = await pending;
        expect(error).toMatchObject({ code: 'P2039', meta: { driverAdapterError: { cause: { code: '57P01' } } } });
        expect(isDatabaseUnavailable(error)).toBe(true);
      } finally {
        await locker.end();
      }
    });

    it('57P01 on node-postgres directly, and "Connection terminated unexpectedly" after it', async () => {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      await client.connect();
      const pending = failure(client.query('SELECT pg_sleep(30) AS "pg-probe"'));
      await terminate(`query LIKE '%pg-probe%'`);
      const error = await pending;
      expect(error).toMatchObject({ code: '57P01', severity: 'FATAL' });
      expect(isDatabaseUnavailable(error)).toBe(true);
      const next = await failure(client.query('SELECT 1'));
      expect((next as Error).message).toBe('Connection terminated unexpectedly');
      expect(isDatabaseUnavailable(next)).toBe(true);
    });

    it('a transaction whose connection was terminated while idle: "Client has encountered a connection error"', async () => {
      const prisma = prismaFor(url);
      const error = await failure(
        prisma.$transaction(async (tx) => {
          const [{ pid }] = await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          await new Promise((resolve) => setTimeout(resolve, 300)); // the FATAL message arrives while idle
          return tx.media.findMany();
        }),
      );
      expect((error as Error).message).toMatch(/connection error|terminated/);
      expect(isDatabaseUnavailable(error)).toBe(true);
    });

    it('ECONNREFUSED: Prisma P1001 (model), P2010 (raw), node-postgres', async () => {
      const prisma = prismaFor(closedPort);
      const model = await failure(prisma.media.findMany());
      expect(model).toMatchObject({ code: 'P1001' });
      const raw = await failure(prisma.$queryRaw`SELECT 1`);
      expect(raw).toMatchObject({
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } },
      });
      const direct = await failure(new pg.Client({ connectionString: closedPort }).connect());
      expect(direct).toMatchObject({ code: 'ECONNREFUSED' });
      for (const error of [model, raw, direct]) expect(isDatabaseUnavailable(error)).toBe(true);
    });

    it('ECONNRESET: Prisma P1017 (model), P2010 (raw), node-postgres', async () => {
      const reset = await hangUp('reset');
      const prisma = prismaFor(reset);
      const model = await failure(prisma.media.findMany());
      expect(model).toMatchObject({ code: 'P1017' });
      const raw = await failure(prisma.$queryRaw`SELECT 1`);
      expect(raw).toMatchObject({
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'ConnectionClosed' } } },
      });
      const direct = await failure(new pg.Client({ connectionString: reset }).connect());
      expect(direct).toMatchObject({ code: 'ECONNRESET' });
      for (const error of [model, raw, direct]) expect(isDatabaseUnavailable(error)).toBe(true);
    });

    it('a connection closed by the server: "Connection terminated unexpectedly" through Prisma and node-postgres', async () => {
      const end = await hangUp('end');
      const prisma = prismaFor(end);
      const errors = [
        await failure(prisma.media.findMany()),
        await failure(prisma.$queryRaw`SELECT 1`),
        await failure(new pg.Client({ connectionString: end }).connect()),
      ];
      for (const error of errors) {
        expect((error as Error).message).toBe('Connection terminated unexpectedly');
        expect(isDatabaseUnavailable(error)).toBe(true);
      }
    });

    it('such an error as the cause of another', () => {
      const lost = new Error('Connection terminated unexpectedly');
      expect(isDatabaseUnavailable(new Error('saving the upload failed', { cause: lost }))).toBe(true);
    });
  });

  describe('is false for a query that is wrong, not a database that is away', () => {
    it('a unique violation (P2002), a syntax error in a raw query (P2010 42601), a missing row, a cancelled statement', async () => {
      const prisma = prismaFor(url);
      const key = { ownerId: 'u1', day: new Date('2026-01-01') };
      await prisma.usage.create({ data: { ownerId: 'u1' } });
      const unique = await failure(prisma.usage.create({ data: { ownerId: 'u1' } }));
      expect(unique).toMatchObject({ code: 'P2002' });
      const syntax = await failure(prisma.$queryRaw`SELEC 1`);
      expect(syntax).toMatchObject({ code: 'P2010', meta: { driverAdapterError: { cause: { code: '42601' } } } });
      const missing = await failure(prisma.dailyUpload.update({ where: { ownerId_day: key }, data: { count: 1 } }));
      expect(missing).toMatchObject({ code: 'P2025' });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const cancelled = await failure(client.query("SET statement_timeout = '50ms'; SELECT pg_sleep(5)"));
      expect(cancelled).toMatchObject({ code: '57014' });
      await client.end();
      for (const error of [unique, syntax, missing, cancelled, new Error('boom'), undefined, 'text'])
        expect(isDatabaseUnavailable(error)).toBe(false);
    });
  });
});
