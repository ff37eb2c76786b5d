import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../support/app';
import { upload } from '../support/http';
import { picture } from '../support/pictures';

/** The built script, as `npm run grpc` runs it (dist/ is built by `npm test` before Jest). */
const SCRIPT = join(__dirname, '..', '..', 'dist', 'scripts', 'grpc-call.js');

const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [SCRIPT, ...args], { env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error) => ({ code: error.code as number, stdout: error.stdout as string, stderr: error.stderr as string }),
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
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).media[0]).toMatchObject({ id, owner_id: 'alice', type: 'image' });
    const refused = await run(args, { GRPC_API_TOKEN: '' });
    expect([refused.code, refused.stderr]).toEqual([
      1,
      'UNAUTHENTICATED: This gRPC API needs authorization: Bearer <GRPC_API_TOKEN>\n',
    ]);
    expect((await run(['Nope', '{}', '--address', t.grpcAddress!])).stderr).toMatch(
      /^unknown method Nope; one of: GrantAccess, RevokeAccess, GetMedia/,
    );
    expect((await run([])).code).toBe(2);
  });
});
