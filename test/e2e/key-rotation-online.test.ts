import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { signToken } from '../support/app';
import { fixture, request, upload } from '../support/http';
import { ready, ROOT, type Running, runService, serviceEnv } from '../support/service-process';
import { waitFor } from '../support/wait';

/**
 * Rotating the master keys and the signed-URL keys while the service serves, on the embedded
 * defaults (the deployment where `npm run keys:rotate` could not open the database itself):
 * the key files are re-read on SIGHUP, the running service re-wraps on `npm run keys:rotate`,
 * and a keep-alive client downloading all the while never sees anything but 200.
 */
describe('key rotation while the service serves (embedded PostgreSQL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-rotation-'));
  const secrets = join(dataDir, 'secrets');
  let service: Running;
  let base: string;
  afterAll(async () => {
    if (service?.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const logLines = () =>
    service
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; [key: string]: unknown });
  const logged = (msg: string) => logLines().filter((line) => line.msg === msg).length;
  const hangUp = async () => {
    const reloads = logged('keys reloaded: new data keys are wrapped with the current master key');
    const refusals = logged('keys not reloaded: the keys in force are kept');
    service.child.kill('SIGHUP');
    await waitFor(
      () =>
        logged('keys reloaded: new data keys are wrapped with the current master key') > reloads ||
        logged('keys not reloaded: the keys in force are kept') > refusals,
    );
    return logged('keys reloaded: new data keys are wrapped with the current master key') > reloads;
  };
  const key = (id: string, byte: number) => `${id}:${Buffer.alloc(32, byte).toString('base64')}`;

  it('re-reads the keys, re-wraps every data key and drops the old keys without a failed request', async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = runService(serviceEnv({ DATA_DIR: dataDir, PORT: String(port), RATE_LIMIT_PER_MINUTE: '100000' }));
    await ready(service, base, 120_000);
    const token = await signToken('rotating-alice', [], 3600, readFileSync(join(secrets, 'jwt-secret'), 'utf8').trim());
    const photo = fixture('jpeg-exif-gps-nikon-d2h.jpg');
    const before = await upload(base, token, { name: 'before.jpg', bytes: photo });
    expect(before.status).toBe(201);
    const mint = async (id: string) =>
      (
        await request(`${base}/api/v1/media/${id}/signed-url`, {
          method: 'POST',
          token,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ expiresIn: 600, variant: 'original' }),
        })
      ).json.url as string;
    const oldUrl = await mint(before.json.id);

    // A keep-alive client downloads the first file throughout.
    const statuses: number[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const reply = await fetch(`${base}/api/v1/media/${before.json.id}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        statuses.push(reply.status);
        await reply.arrayBuffer();
      }
    })();

    // 1. New keys first, old ones kept; SIGHUP: new data keys are wrapped with k2, new URLs signed with s2.
    const devMaster = readFileSync(join(secrets, 'master-keys'), 'utf8').trim();
    const devSigned = readFileSync(join(secrets, 'signed-url-keys'), 'utf8').trim();
    writeFileSync(join(secrets, 'master-keys'), `${key('k2', 0x42)},${devMaster}\n`);
    writeFileSync(join(secrets, 'signed-url-keys'), `${key('s2', 0x43)},${devSigned}\n`);
    expect(await hangUp()).toBe(true);
    const after = await upload(base, token, { name: 'after.png', bytes: fixture('png-rgba-alpha-yellow-rose.png') });
    expect(after.status).toBe(201);
    const newUrl = await mint(after.json.id);
    expect((await request(`${base}${oldUrl}`)).status).toBe(200); // signed before: still valid

    // 2. npm run keys:rotate finds the service owning DATA_DIR and has it re-wrap while it serves.
    const asked = execFileSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'keys-rotate.js')], {
      env: serviceEnv({ DATA_DIR: dataDir }),
    }).toString();
    expect(asked).toMatch(/was asked to rotate \(SIGUSR2\)/);
    await waitFor(() => logged('key rotation done') === 1, 60_000);
    const done = logLines().find((line) => line.msg === 'key rotation done')!;
    expect(done).toMatchObject({ current: 'k2', left: [] });
    expect(done.rewrapped).toBeGreaterThanOrEqual(4); // the first photo and its three previews

    // 3. A list that drops a key data keys depend on is refused; the keys in force are kept.
    writeFileSync(join(secrets, 'master-keys'), `${key('k3', 0x44)}\n`);
    expect(await hangUp()).toBe(false);

    // 4. The old keys leave: everything still reads; a URL signed with the old key no longer opens.
    writeFileSync(join(secrets, 'master-keys'), `${key('k2', 0x42)}\n`);
    writeFileSync(join(secrets, 'signed-url-keys'), `${key('s2', 0x43)}\n`);
    expect(await hangUp()).toBe(true);
    for (const media of [before, after]) {
      const back = await request(`${base}/api/v1/media/${media.json.id}`, { token });
      expect(back.status).toBe(200);
      expect(back.body.length).toBe(media.json.size);
    }
    expect((await request(`${base}${newUrl}`)).status).toBe(200);
    expect((await request(`${base}${oldUrl}`)).status).toBe(401);

    reading = false;
    await reader;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(service.child.exitCode).toBeNull(); // served throughout: no restart
    // Key material never reaches the log: ids only.
    expect(service.output()).not.toContain(Buffer.alloc(32, 0x42).toString('base64'));
  }, 300_000);
});
