/** What Prisma and its pg adapter report when the database cannot be reached or is overloaded. */
const UNREACHABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'DatabaseDoesNotExist',
]);
const UNREACHABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
/**
 * PostgreSQL's SQLSTATEs for "the server went away or will not take us now": admin, crash
 * and immediate shutdown, still starting up or recovering, too many connections. Class 08
 * (connection exception) is matched as a whole. Prisma wraps them as P2010 (raw queries)
 * or P2039 (model queries) with the SQLSTATE in the driver adapter's cause.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors of node-postgres's own connections (they carry a syscall; an HTTP client's abort does not). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** node-postgres and pg-pool report a lost or refused connection as plain Errors with these messages (no code). */
const CONNECTION_LOST = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^timeout exceeded when trying to connect$/,
  /^Cannot use a pool after calling end on the pool$/,
];
const MAX_DEPTH = 5;

interface Candidate {
  name?: string;
  code?: unknown;
  message?: unknown;
  severity?: unknown;
  syscall?: unknown;
  cause?: unknown;
  errors?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: string; code?: string; originalCode?: string } } };
}

/**
 * True when `error` means "the database is down, restarting or unreachable", not "the
 * query was wrong": from Prisma (known-request codes, the driver adapter's cause, plain
 * errors it passes through) or from node-postgres used directly (the job queue, the
 * change feed). Causes and AggregateErrors are followed a few levels down.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > MAX_DEPTH) return false;
  const known = error as Candidate;
  if (known.name === 'PrismaClientInitializationError') return true;
  const code = typeof known.code === 'string' ? known.code : undefined;
  if (code && UNREACHABLE_CODES.has(code)) return true;
  const cause = known.meta?.driverAdapterError?.cause;
  if (cause?.kind !== undefined && UNREACHABLE_KINDS.has(cause.kind)) return true;
  if (cause?.kind === 'postgres' && isUnavailableSqlState(cause.code ?? cause.originalCode)) return true;
  // node-postgres's DatabaseError: a SQLSTATE with a severity.
  if (code && typeof known.severity === 'string' && isUnavailableSqlState(code)) return true;
  if (code && typeof known.syscall === 'string' && SOCKET_CODES.has(code)) return true;
  if (typeof known.message === 'string' && CONNECTION_LOST.some((pattern) => pattern.test(known.message as string)))
    return true;
  if (Array.isArray(known.errors) && known.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(known.cause, depth + 1);
}

function isUnavailableSqlState(code: string | undefined): boolean {
  return code !== undefined && (UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'));
}
