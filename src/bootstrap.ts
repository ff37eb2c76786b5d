import 'reflect-metadata';
import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { deferContinue } from './http/early-answers.js';
import { ErrorFilter } from './http/error.filter.js';
import { isUploadRequest } from './http/media.controller.js';
import { createOpenApiDocument } from './http/openapi.js';
import { httpMetrics } from './observability/http-metrics.middleware.js';
import { requestIdMiddleware } from './observability/logging.js';
import { Metrics } from './observability/metrics.js';

/** The Nest application for `config` (whose databaseUrl is set), not yet listening. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), { bufferLogs: true });
  app.use(requestIdMiddleware);
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.use(httpMetrics(app.get(Metrics)));
  // Errors outside controllers (unknown routes, body parsers) go through the same filter.
  app.useGlobalFilters(new ErrorFilter());
  const document = createOpenApiDocument(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  const server = app.getHttpServer() as Server;
  // Phones on slow networks: a 100 MB upload may take far longer than Node's 5-minute
  // default for a whole request; what is cut instead is a connection that stops moving.
  server.requestTimeout = 60 * 60_000;
  server.setTimeout(2 * 60_000);
  deferContinue(server, isUploadRequest);
  return app;
}
