type Indicators = Record<string, { status: string; [key: string]: unknown }>;

export interface HealthBody {
  status: string;
  info?: Indicators;
  error?: Indicators;
  details?: Indicators;
}

/** What an indicator may say publicly besides its status: whether antivirus scanning is on, a peer's breaker state. */
const PUBLIC_FIELDS = ['scanning', 'breaker', 'connection'];

/**
 * The body a client sees: which dependency is up or down, never why. Terminus puts the
 * failure's text in each indicator ("connect ECONNREFUSED 127.0.0.1:39201"), which names
 * internal addresses; that stays in the log.
 */
export function publicHealth(body: HealthBody): HealthBody {
  const keep = ({ status, ...rest }: Indicators[string]) => ({
    status,
    ...Object.fromEntries(Object.entries(rest).filter(([key]) => PUBLIC_FIELDS.includes(key))),
  });
  const strip = (indicators?: Indicators) =>
    indicators && Object.fromEntries(Object.entries(indicators).map(([name, indicator]) => [name, keep(indicator)]));
  return { status: body.status, info: strip(body.info), error: strip(body.error), details: strip(body.details) };
}

/** "database: connect ECONNREFUSED ..." for each failing indicator, for the log. */
export function failures(body: HealthBody): string[] {
  return Object.entries(body.error ?? {}).map(
    ([name, { status, ...rest }]) => `${name} ${status}: ${String(rest.message ?? JSON.stringify(rest))}`,
  );
}
