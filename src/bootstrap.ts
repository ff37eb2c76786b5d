import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { answerClientErrors } from './http/client-errors.js';
import { CorsPolicy } from './http/cors.js';
import { deferContinue } from './http/early-answers.js';
import { jsonBodies } from './http/json-body.js';
import { keepAliveLongerThanAdvertised } from './http/keep-alive.js';
import { ErrorFilter } from './http/error.filter.js';
import { isUploadRequest, MediaController } from './http/media.controller.js';
import { ReadLane } from './http/read-lane.js';
import { Authenticator } from './http/auth/authenticator.js';
import { RateLimitGuard } from './http/auth/rate-limit.guard.js';
import { createOpenApiDocument } from './http/openapi.js';
import { observeRequests } from './observability/observe-requests.js';
import { Metrics } from './observability/metrics.js';
import { requestLines } from './observability/logging.js';

/**
 * How long a client may take. Phones on slow networks: a 100 MB upload may take far longer
 * than Node's 5-minute default for a whole request; what is cut instead is a connection
 * that stops moving (IDLE_TIMEOUT_MS) or whose body crawls (multipart.ts, MIN_BODY_RATE).
 * Headers have no such excuse (slowloris): they must be in within 20 s, checked every 5 s,
 * so a client still sending them is cut within 25 s (Node: 60 s, checked every 30 s).
 */
export const SERVER_OPTIONS: ServerOptions = {
  requestTimeout: 60 * 60_000,
  headersTimeout: 20_000,
  connectionsCheckingInterval: 5_000,
};
const IDLE_TIMEOUT_MS = 2 * 60_000;

/**
 * Nest on Express, on a server created with SERVER_OPTIONS (some of which exist only at
 * creation), the read lane in front: it takes its requests, Express the rest.
 */
class TunedExpressAdapter extends ExpressAdapter {
  lane?: ReadLane;

  override initHttpServer(): void {
    const express = this.getInstance<(req: IncomingMessage, res: ServerResponse) => void>();
    this.setHttpServer(
      createServer(SERVER_OPTIONS, (req, res) => {
        if (!this.lane?.take(req, res)) express(req, res);
      }),
    );
  }
}

/** The Nest application for `config` (whose databaseUrl is set), initialised (a worker has no read lane), not yet listening. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const adapter = new TunedExpressAdapter();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), adapter, {
    bufferLogs: true,
    bodyParser: false,
  });
  const cors = new CorsPolicy(config.corsAllowedOrigins);
  const observe = observeRequests(app.get(Metrics));
  const corsHeaders = cors.middleware();
  app.use(observe);
  // Before anything that may answer (body parsers, guards, early refusals): every answer,
  // an upload's 413 or 429 before its body included, must be readable by an allowed page.
  app.use(corsHeaders);
  app.use(jsonBodies(isUploadRequest));
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // Errors outside controllers (unknown routes, body parsers) go through the same filter.
  app.useGlobalFilters(new ErrorFilter());
  const document = createOpenApiDocument(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  const server = app.getHttpServer() as Server;
  server.setTimeout(IDLE_TIMEOUT_MS);
  keepAliveLongerThanAdvertised(server);
  answerClientErrors(server, cors);
  deferContinue(server, isUploadRequest);
  await app.init(); // the routes, and the logger requestLines writes through
  if (config.role !== 'worker') {
    const lines = requestLines(config.logLevel);
    adapter.lane = new ReadLane({
      steps: lines ? [observe, corsHeaders, lines] : [observe, corsHeaders],
      authenticator: app.get(Authenticator),
      rateLimit: app.get(RateLimitGuard),
      controller: app.get(MediaController),
    });
  }
  return app;
}
