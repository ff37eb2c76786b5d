import { execFile } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../support/app';
import { upload } from '../support/http';
import { picture } from '../support/pictures';

/** The built script, as `npm run grpc` runs it (dist/ is built by `npm test` before Jest). */
const SCRIPT = join(__dirname, '..', '..', 'dist', 'scripts', 'grpc-call.js');

/**
 * One run of the script. A run still going after 90 s is stopped and answers its signal (the
 * script's own bound is 31 s), so that a hang fails here, naming the run, not as Jest's timeout.
 */
const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [SCRIPT, ...args], {
    env: { ...process.env, ...env },
    timeout: 90_000,
    killSignal: 'SIGKILL',
  }).then(
    ({ stdout, stderr }) => ({ code: 0 as number | null, signal: null as string | null, stdout, stderr }),
    (error) => ({
      code: error.code as number | null,
      signal: error.signal as string | null,
      stdout: error.stdout as string,
      stderr: error.stderr as string,
    }),
  );

describe('npm run grpc (a person trying the gRPC API)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ grpc: true, env: { GRPC_API_TOKEN: 'script-token-0123456789' } });
  });
  afterAll(async () => t?.close());

  it('calls an RPC with the token from GRPC_API_TOKEN and prints the JSON response; a refusal is the status on stderr', async () => {
    const id = (await upload(t.url, await t.token('alice'), { name: 'p.png', bytes: await picture(50) })).json.id;
    const args = [
      'GetMedia',
      JSON.stringify({ acting_user_id: 'alice', media_ids: [id] }),
      '--address',
      t.grpcAddress!,
    ];
    const ok = await run(args, { GRPC_API_TOKEN: 'script-token-0123456789' });
    expect(ok).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(ok.stdout).media[0]).toMatchObject({ id, owner_id: 'alice', type: 'image' });
    const refused = await run(args, { GRPC_API_TOKEN: '' });
    expect([refused.code, refused.signal, refused.stderr]).toEqual([
      1,
      null,
      'UNAUTHENTICATED: This gRPC API needs authorization: Bearer <GRPC_API_TOKEN>\n',
    ]);
    expect((await run(['Nope', '{}', '--address', t.grpcAddress!])).stderr).toMatch(
      /^unknown method Nope; one of: GrantAccess, RevokeAccess, GetMedia/,
    );
    expect((await run([])).code).toBe(2);
    expect((await run([...args, '--deadline', 'soon'])).code).toBe(2);
    const unknown = await run([...args, '--nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown option '--nope'.*\nusage: npm run -s grpc/);
  });

  it('gives up on an address that accepts the connection and never answers, after --deadline seconds', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const ask = ['GetMedia', '{"acting_user_id":"alice","media_ids":[]}', '--address', address];
      const answer = await run([...ask, '--deadline', '1']);
      expect([answer.code, answer.signal, answer.stdout]).toEqual([1, null, '']);
      expect(answer.stderr).toMatch(/^DEADLINE_EXCEEDED: /);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
