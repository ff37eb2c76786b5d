/**
 * A real moderation-service stand-in: a @grpc/grpc-js server speaking proto/moderation.proto
 * on 127.0.0.1 (test/support/grpc-stand-in.ts). A test sets its decision at any time
 * (approve, reject) besides the shared behaviour (delay, fail, flap), reads what it
 * received, and can stop() and start() it again on the same port.
 */
import { GrpcStandIn } from './grpc-stand-in';
import { loadModerationService } from '../../src/peers/moderation.client';

type Answer = { decision: string; reason: string; block: { algorithm: string; hash: string }[] };

export class ModerationServer extends GrpcStandIn {
  /** CheckMediaContent requests as received (camelCase, as proto-loader decodes them). */
  readonly checks: Record<string, unknown>[] = [];
  readonly lookups: { algorithm: string; hash: string }[] = [];
  /** GetContentHash answers, keyed `${algorithm}:${hash}`. */
  readonly hashes = new Map<string, { blocked: boolean; reason: string }>();

  private answer: Answer = { decision: 'APPROVED', reason: '', block: [] };

  static async start(): Promise<ModerationServer> {
    const stub = new ModerationServer();
    await stub.start();
    return stub;
  }

  get requestCount(): number {
    return this.checks.length + this.lookups.length;
  }

  approve(): this {
    return this.decide('APPROVED');
  }

  reject(reason: string, block: Answer['block'] = []): this {
    return this.decide('REJECTED', reason, block);
  }

  /** Any Decision name, e.g. DECISION_UNSPECIFIED. Clears a standing failure. */
  decide(decision: string, reason = '', block: Answer['block'] = []): this {
    this.answer = { decision, reason, block };
    this.clearFailure();
    return this;
  }

  protected service() {
    return {
      definition: loadModerationService().service,
      implementation: {
        CheckMediaContent: this.handler(this.checks, () => this.answer),
        GetContentHash: this.handler(this.lookups, (req: { algorithm: string; hash: string }) => {
          const entry = this.hashes.get(`${req.algorithm}:${req.hash}`);
          return { known: entry !== undefined, blocked: entry?.blocked ?? false, reason: entry?.reason ?? '' };
        }),
      },
    };
  }
}
