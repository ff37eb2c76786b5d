import { Controller, Get, Header, Inject, Logger, Res, ServiceUnavailableException } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { GrpcServer } from '../grpc/grpc-server.js';
import type { Response } from 'express';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PrismaService } from '../db/prisma.service.js';
import { Public } from './auth/decorators.js';
import { HealthDto } from './dto.js';
import { liveness } from '../lifecycle/liveness.js';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store.js';
import { assertFreeSpace } from '../storage/out-of-space.js';
import { AntivirusService } from '../moderation/antivirus.service.js';
import { Metrics } from '../observability/metrics.js';
import { LIMITER, type Limiter } from '../limits/limiter.js';
import { AuthPeer } from '../peers/auth-peer.js';
import { ModerationPeer } from '../peers/moderation-peer.js';
import { UserPeer } from '../peers/user-peer.js';
import { failures, type HealthBody, publicHealth } from './readiness.js';

const TIMEOUT_MS = 3000;

@ApiTags('operations')
@Public()
@Controller()
export class HealthController {
  private readonly logger = new Logger('Readiness');

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly metrics: Metrics,
    private readonly antivirus: AntivirusService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly modules: ModuleRef,
    private readonly authPeer: AuthPeer,
    private readonly userPeer: UserPeer,
    private readonly moderationPeer: ModerationPeer,
  ) {}

  /**
   * One check per configured peer: down while its circuit breaker is open (calls to it are
   * failing and are not even tried), except moderation-service in `open` failure mode,
   * which uploads go on without.
   */
  private peerChecks(): HealthIndicatorFunction[] {
    const peers = [
      { name: 'auth-service', client: this.authPeer.client, required: true },
      { name: 'user-service', client: this.userPeer.client, required: true },
      { name: 'moderation-service', client: this.moderationPeer.client, required: !this.moderationPeer.failsOpen },
    ];
    return peers.flatMap(({ name, client, required }) => {
      if (!client) return [];
      return [
        () => {
          const breaker = client.breakerState;
          const check = this.indicators.check(name);
          return breaker === 'open' && required ? check.down({ breaker }) : check.up({ breaker });
        },
      ];
    });
  }

  /**
   * Redis, when REDIS_URL is set: reported, never failing readiness — while it is down the
   * limits hold per replica (src/limits/redis-limiter.ts), and taking every replica out
   * of service for it would turn a Redis outage into a service outage.
   */
  private redisCheck(): HealthIndicatorFunction[] {
    let limiter: Limiter;
    try {
      limiter = this.modules.get<Limiter>(LIMITER, { strict: false });
    } catch {
      return [];
    }
    if (limiter.connected === undefined) return [];
    return [
      () => this.indicators.check('redis').up({ connection: limiter.connected ? 'ok' : 'lost (limits per replica)' }),
    ];
  }

  /** The gRPC API of this process, when it serves one (the API role). */
  private get grpc(): GrpcServer | undefined {
    try {
      const server = this.modules.get(GrpcServer, { strict: false });
      return server.enabled ? server : undefined;
    } catch {
      return undefined; // a worker: no gRPC edge
    }
  }

  @Get('health/live')
  @ApiOperation({
    summary:
      'Liveness: the process answers, and has not given up on a dependency it runs itself (the embedded PostgreSQL)',
  })
  @ApiResponse({ status: 200, type: HealthDto, description: 'The process is alive' })
  @ApiResponse({ status: 503, type: HealthDto, description: 'The process is exiting to be restarted (see error)' })
  // Terminus's own OpenAPI lines put a `schema` beside `content` (invalid OpenAPI 3): ours above say it.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  live(@Res({ passthrough: true }) res: Response) {
    const failure = liveness.failure;
    return this.answer(
      res,
      'live',
      failure ? [() => this.indicators.check(failure.component).down(failure.reason)] : [],
    );
  }

  @Get('health/ready')
  @ApiOperation({
    summary:
      'Readiness: database and storage answer, with at least STORAGE_MIN_FREE_BYTES free under DATA_DIR; clamd answers when CLAMAV_URL is set (antivirus.scanning says on or off); ' +
      'the gRPC API is serving when this process runs it; each configured peer (auth-, user-, moderation-service) is down while its circuit breaker is open (moderation-service in open failure mode never is)',
  })
  @ApiResponse({ status: 200, type: HealthDto, description: 'Every check is up' })
  @ApiResponse({ status: 503, type: HealthDto, description: 'A check is down (see error and details)' })
  ready(@Res({ passthrough: true }) res: Response) {
    return this.answer(res, 'ready', [
      () =>
        this.indicators
          .check('database')
          .attempt(() => this.prisma.$queryRaw`SELECT 1`.then(() => undefined))
          .withTimeout(TIMEOUT_MS),
      // The store answers, and the disk under DATA_DIR (temp files; the blobs too with the local driver) is not (nearly) full.
      () =>
        this.indicators
          .check('storage')
          .attempt(async () => {
            await this.store.health();
            await assertFreeSpace(this.config.dataDir, this.config.storage.minFreeBytes);
          })
          .withTimeout(TIMEOUT_MS),
      // clamd, when scanning is on: without it no upload can be accepted. Off is a configuration, not a failure.
      this.antivirus.enabled
        ? () =>
            this.indicators
              .check('antivirus')
              .attempt(() => this.antivirus.ping().then(() => ({ scanning: 'on' })))
              .withTimeout(TIMEOUT_MS)
        : () => this.indicators.check('antivirus').up({ scanning: 'off' }),
      ...this.peerChecks(),
      ...this.redisCheck(),
      // Our gRPC API, when this process serves it: bound and taking calls.
      ...(this.grpc
        ? [
            () =>
              this.grpc?.port ? this.indicators.check('grpc').up() : this.indicators.check('grpc').down('not serving'),
          ]
        : []),
    ]);
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics, text exposition format 0.0.4' })
  @ApiResponse({
    status: 200,
    description: 'Every metric in the Prometheus text format (Content-Type: text/plain; version=0.0.4; charset=utf-8)',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  private async answer(res: Response, what: 'live' | 'ready', checks: HealthIndicatorFunction[]) {
    try {
      return await this.health.check(checks);
    } catch (error) {
      // Terminus reports a failed check as an exception; its body, without the failures' texts, is the answer.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const body = error.getResponse() as HealthBody;
      this.logger.warn(`not ${what}: ${failures(body).join('; ')}`);
      res.status(503);
      return publicHealth(body);
    }
  }
}
