import 'reflect-metadata';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Post, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { HoldsShutdown, InFlight } from '../../../src/lifecycle/in-flight';
import { waitFor } from '../../support/wait';

/** Handlers that wait for the test to let them finish, long after their client went away. */
let finishWork: () => void = () => {};
let working = false;
const work = () => {
  working = true;
  return new Promise<void>((resolve) => (finishWork = resolve)).finally(() => (working = false));
};

@Controller()
class WorkController {
  @Post('change')
  @UseInterceptors(HoldsShutdown)
  async change(): Promise<string> {
    await work();
    return 'changed';
  }

  @Get('read')
  async read(): Promise<string> {
    await work();
    return 'read';
  }
}

@Module({ controllers: [WorkController] })
class WorkModule {}

describe('HoldsShutdown: a state-changing handler holds shutdown past its connection, a read does not', () => {
  let app: INestApplication;
  let inFlight: InFlight;
  let port: number;

  beforeAll(async () => {
    app = await NestFactory.create(WorkModule, { logger: false });
    inFlight = new InFlight(app.getHttpServer());
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(() => app.close());

  /** Sends the request and cuts the connection once the handler runs. */
  async function sendAndHangUp(method: string, path: string): Promise<void> {
    const req = httpRequest({ host: '127.0.0.1', port, method, path });
    req.on('error', () => {});
    req.end();
    await waitFor(() => working); // the handler is awaiting work()
    req.destroy();
    await waitFor(() => inFlight.requests === 0);
  }

  it('counts a POST through HoldsShutdown until its handler settles', async () => {
    await sendAndHangUp('POST', '/change');
    expect(inFlight.count).toBe(1); // the response closed; the handler still runs
    let idle = false;
    void inFlight.idle(60_000).then((value) => (idle = value));
    finishWork();
    await waitFor(() => idle);
    expect(inFlight.count).toBe(0);
  });

  it('does not hold for a GET: its count ends with its response', async () => {
    await sendAndHangUp('GET', '/read');
    expect(inFlight.count).toBe(0);
    finishWork();
  });
});
