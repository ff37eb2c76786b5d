/** What Prisma and its pg adapter report when the database cannot be reached or is overloaded. */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseDoesNotExist']);
const UNREACHABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/** True when `error` means "the database is down or unreachable", not "the query was wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  const known = error as { code?: string; name?: string; meta?: { driverAdapterError?: { cause?: { kind?: string } } } };
  if (known?.name === 'PrismaClientInitializationError') return true;
  if (known?.code && UNREACHABLE_CODES.has(known.code)) return true;
  const kind = known?.meta?.driverAdapterError?.cause?.kind;
  return kind !== undefined && UNREACHABLE_KINDS.has(kind);
}
