/**
 * A real auth-service stand-in: a @grpc/grpc-js server speaking proto/auth.proto on
 * 127.0.0.1. A test registers tokens and users, sets its behaviour at any time (up, slow,
 * failing, flapping), reads what it received (with the x-request-id metadata), and can
 * stop() and start() it again on the same port.
 */
import * as grpc from '@grpc/grpc-js';
import { GrpcStandIn } from './grpc-stand-in';
import { loadAuthService } from '../../src/peers/auth.client';

export interface IssuedToken {
  userId: string;
  roles?: string[];
  /** Unix seconds; 0: not said. */
  expiresAt?: number;
}

export interface StandInUser {
  active?: boolean;
  roles?: string[];
}

export class AuthServer extends GrpcStandIn {
  /** ValidateToken requests as received. */
  readonly validations: { token: string }[] = [];
  readonly userLookups: { userId: string }[] = [];
  /** Valid tokens; any other token is answered `valid: false, reason: 'unknown token'`. */
  readonly tokens = new Map<string, IssuedToken>();
  /** Known users; any other is answered NOT_FOUND. */
  readonly users = new Map<string, StandInUser>();

  static async start(): Promise<AuthServer> {
    const stub = new AuthServer();
    await stub.start();
    return stub;
  }

  get requestCount(): number {
    return this.validations.length + this.userLookups.length;
  }

  protected service() {
    return {
      definition: loadAuthService().service,
      implementation: {
        ValidateToken: this.handler(this.validations, ({ token }: { token: string }) => {
          const issued = this.tokens.get(token);
          if (!issued) return { valid: false, reason: 'unknown token' };
          return { valid: true, userId: issued.userId, roles: issued.roles ?? [], expiresAt: issued.expiresAt ?? 0 };
        }),
        GetUserInfo: this.handler(this.userLookups, ({ userId }: { userId: string }) => {
          const user = this.users.get(userId);
          if (!user) return { code: grpc.status.NOT_FOUND, details: `no user ${userId}` };
          return { userId, exists: true, active: user.active ?? true, roles: user.roles ?? [] };
        }),
      },
    };
  }
}
