import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MediaError } from '../errors.js';
import { ClamdScanner, ClamdUnavailableError } from './clamav.js';

/**
 * The antivirus stage: every upload's plaintext streamed to clamd when CLAMAV_URL is set.
 * Never reports clean without a full scan: a signature → 422 MALWARE_DETECTED; a scan clamd
 * could not finish (encrypted content, nesting, size or scan-time limits: it reports them as
 * `Heuristics.*` or an ERROR) → 422 MALWARE_DETECTED too, since retrying cannot help; clamd
 * unreachable, or too busy to answer in time → 503 DEPENDENCY_UNAVAILABLE with Retry-After.
 */
@Injectable()
export class AntivirusService {
  private readonly log = new Logger('Antivirus');
  private readonly scanner?: ClamdScanner;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.clamavUrl) this.scanner = new ClamdScanner(config.clamavUrl);
  }

  get enabled(): boolean {
    return this.scanner !== undefined;
  }

  /** For readiness: resolves when clamd answers PING, throws otherwise. */
  async ping(): Promise<void> {
    if (this.scanner && !(await this.scanner.ping(1000))) throw new Error('clamd does not answer PING');
  }

  /** Scans the plaintext; throws the contract's error for anything but a full, clean scan. */
  async scan(open: () => Promise<Readable>, signal: AbortSignal): Promise<void> {
    if (!this.scanner) return;
    let result;
    try {
      result = await this.scanner.scan(await open(), { signal, timeoutMs: 120_000 });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!(error instanceof ClamdUnavailableError)) throw error;
      this.log.warn(`clamd unavailable: ${(error.cause as Error | undefined)?.message ?? error.message}`);
      throw new MediaError('DEPENDENCY_UNAVAILABLE', 'The antivirus is unavailable; try again later', {
        retryAfter: 10,
      });
    }
    if (result.verdict === 'clean') return;
    if (result.verdict === 'infected')
      throw new MalwareFound(result.signature, 'The file was rejected by the antivirus scan');
    // A per-file limit (scan time, size, recursion) is the file's doing: the same file would
    // hit it again on every retry, so it is refused, never "try again later".
    this.log.warn(`scan incomplete: ${result.reason}`);
    throw new MalwareFound(
      result.reason,
      'The antivirus could not scan all of the file (encrypted, or beyond its time, size or nesting limits); it is refused',
    );
  }
}

/** 422 MALWARE_DETECTED, carrying what clamd said for the incident record (not for the client). */
export class MalwareFound extends MediaError {
  constructor(
    readonly signature: string,
    message: string,
  ) {
    super('MALWARE_DETECTED', message);
  }
}
