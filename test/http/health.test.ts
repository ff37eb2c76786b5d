import { liveness } from '../../src/lifecycle/liveness';
import { startTestApp, type TestApp } from '../support/app';
import { type Clamd, startClamd } from '../support/clamd';
import { request } from '../support/http';

describe('health routes', () => {
  const apps: TestApp[] = [];
  let clamd: Clamd | undefined;
  let t: TestApp; // CLAMAV_URL unset; lives through the file (an app closed at once leaves its job queue starting)
  beforeAll(async () => {
    t = await start({});
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await clamd?.stop();
  });
  const start = async (options: Parameters<typeof startTestApp>[0]) => {
    const app = await startTestApp(options);
    apps.push(app);
    return app;
  };

  it('/health/ready says scanning is off, as up, when CLAMAV_URL is unset', async () => {
    const ready = await request(`${t.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, storage: { status: 'up' }, antivirus: { status: 'up', scanning: 'off' } },
      details: { antivirus: { status: 'up', scanning: 'off' } },
    });
  });

  it('says scanning is on when clamd answers, and names it down when it does not', async () => {
    clamd = await startClamd();
    const scanning = await start({ env: { CLAMAV_URL: clamd.url } });
    const ready = await request(`${scanning.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json.info.antivirus).toMatchObject({ status: 'up', scanning: 'on' });
    await clamd.stop();
    clamd = undefined;
    const down = await request(`${scanning.url}/health/ready`);
    expect(down.status).toBe(503);
    expect(down.json.error).toEqual({ antivirus: { status: 'down' } });
  });

  it('keeps saying scanning is off when another check fails (only status and scanning are public)', async () => {
    const dead = await start({ databaseUrl: 'postgresql://media:x@127.0.0.1:9/media' }); // nothing listens on port 9
    const ready = await request(`${dead.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json).toEqual({
      status: 'error',
      info: { storage: { status: 'up' }, antivirus: { status: 'up', scanning: 'off' } },
      error: { database: { status: 'down' } },
      details: {
        database: { status: 'down' },
        storage: { status: 'up' },
        antivirus: { status: 'up', scanning: 'off' },
      },
    });
  });

  it('/health/live is 200 while the process is live, 503 naming the component (not the reason) once it has given up', async () => {
    expect((await request(`${t.url}/health/live`)).status).toBe(200);
    liveness.fail('database', 'the embedded PostgreSQL could not be kept running: 5 restarts at 127.0.0.1:5432');
    const live = await request(`${t.url}/health/live`);
    expect(live.status).toBe(503);
    expect(live.json).toEqual({
      status: 'error',
      info: {},
      error: { database: { status: 'down' } },
      details: { database: { status: 'down' } },
    });
    expect(live.body.toString()).not.toMatch(/restart|127\.0\.0\.1/);
  });
});
