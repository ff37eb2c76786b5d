import { Controller, Get, Header, Inject, Logger, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { PrismaService } from '../db/prisma.service.js';
import { Public } from '../http/auth/decorators.js';
import { HealthDto } from '../http/dto.js';
import { BLOB_STORE, type BlobStore } from '../storage/blob-store.js';
import { AntivirusService } from '../moderation/antivirus.service.js';
import { Metrics } from './metrics.js';
import { failures, type HealthBody, publicHealth } from './readiness.js';

const TIMEOUT_MS = 3000;

@ApiTags('operations')
@Public()
@Controller()
export class ObservabilityController {
  private readonly logger = new Logger('Readiness');

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly metrics: Metrics,
    private readonly antivirus: AntivirusService,
  ) {}

  @Get('health/live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiResponse({ status: 200, type: HealthDto })
  // Terminus's own OpenAPI lines put a `schema` beside `content` (invalid OpenAPI 3): ours above say it.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  live() {
    return this.health.check([]);
  }

  @Get('health/ready')
  @ApiOperation({ summary: 'Readiness: database and storage answer (and clamd, when CLAMAV_URL is set)' })
  @ApiResponse({ status: 200, type: HealthDto, description: 'Every check is up' })
  @ApiResponse({ status: 503, type: HealthDto, description: 'A check is down (see error and details)' })
  async ready(@Res({ passthrough: true }) res: Response) {
    try {
      return await this.health.check([
        () => this.indicators.check('database').attempt(() => this.prisma.$queryRaw`SELECT 1`.then(() => undefined)).withTimeout(TIMEOUT_MS),
        () => this.indicators.check('storage').attempt(() => this.store.health()).withTimeout(TIMEOUT_MS),
        // clamd, when scanning is on: without it no upload can be accepted.
        ...(this.antivirus.enabled ? [() => this.indicators.check('antivirus').attempt(() => this.antivirus.ping()).withTimeout(TIMEOUT_MS)] : []),
      ]);
    } catch (error) {
      // Terminus reports "not ready" as an exception; its body, without the failures' texts, is the answer.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const body = error.getResponse() as HealthBody;
      this.logger.warn(`not ready: ${failures(body).join('; ')}`);
      res.status(503);
      return publicHealth(body);
    }
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics, text exposition format 0.0.4' })
  @ApiResponse({ status: 200, description: 'text/plain; version=0.0.4; charset=utf-8', content: { 'text/plain': { schema: { type: 'string' } } } })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
