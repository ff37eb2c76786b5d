import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, parse } from 'node:path';
import { promisify } from 'node:util';
import { createMediaClient, type MediaClient, multipart } from '../../clients/typescript';
import { startTestApp, type TestApp } from '../support/app';
import { picture } from '../support/pictures';

const ROOT = join(__dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const { CLIENT_SCHEMA_PATH } = require('../../scripts/client-schema.cjs') as { CLIENT_SCHEMA_PATH: string };
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The body of a successful answer; anything else fails the test with the answer's status and error body. */
function ok<T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T {
  if (data === undefined) throw new Error(`${response.status} ${JSON.stringify(error)}`);
  return data;
}

/** Where the committed schema first differs from what would be generated now: enough to see what changed. */
function firstDifference(committed: string, now: string): string {
  const [before, after] = [committed.split('\n'), now.split('\n')];
  const differs = before.findIndex((text, i) => text !== after[i]);
  const line = differs === -1 ? before.length : differs;
  return `line ${line + 1}: committed ${JSON.stringify(before[line])}, generated now ${JSON.stringify(after[line])}`;
}

/** What `tsc` says of `source`, an ES module beside the repository compiled with tsconfig.json's options: '' when it compiles. */
async function typeErrors(source: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'media-client-example-'));
  try {
    writeFileSync(join(dir, 'example.mts'), source); // .mts: the example awaits at top level
    const compilerOptions = {
      noEmit: true,
      rootDir: parse(dir).root,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
    };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions, include: [], files: ['example.mts'] }),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [TSC, '-p', dir]).catch((error) => error);
    return stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the generated TypeScript client (clients/typescript)', () => {
  let t: TestApp;
  let alice: MediaClient;
  beforeAll(async () => {
    t = await startTestApp();
    alice = createMediaClient({ baseUrl: t.url, token: await t.token('alice') });
  });
  afterAll(() => t.close());

  it('is generated from the OpenAPI document the service serves now', async () => {
    const document = await (await fetch(`${t.url}/api/docs-json`)).text();
    // What `npm run client` writes for this document; by Node itself (scripts/client-schema.cjs says why).
    const now = execFileSync(process.execPath, ['scripts/client-schema.cjs'], {
      cwd: ROOT,
      input: document,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const committed = readFileSync(join(ROOT, CLIENT_SCHEMA_PATH), 'utf8');
    if (committed !== now)
      throw new Error(`${CLIENT_SCHEMA_PATH} is out of date: run npm run client (${firstDifference(committed, now)})`);
  });

  it('uploads a picture, reads its metadata, downloads it and deletes it, every answer typed', async () => {
    const png = await picture(15);
    const file = new File([new Uint8Array(png)], 'client.png', { type: 'image/png' });
    const uploaded = await alice.POST('/api/v1/media/upload', { body: { file }, bodySerializer: multipart });
    expect(uploaded.response.status).toBe(201);
    const media = ok(uploaded);
    expect(media).toMatchObject({
      ownerId: 'alice',
      type: 'image',
      status: 'ready',
      originalName: 'client.png',
      originalSize: png.length,
    });

    const path = { id: media.id };
    const metadata = ok(await alice.GET('/api/v1/media/{id}/metadata', { params: { path } }));
    expect(metadata).toEqual(media);
    // An image is re-encoded when stored: the download is what size and sha256 describe, not the upload.
    const download = await alice.GET('/api/v1/media/{id}', { params: { path }, parseAs: 'arrayBuffer' });
    const bytes = Buffer.from(ok(download));
    expect({ size: bytes.length, sha256: sha256(bytes), type: download.response.headers.get('content-type') }).toEqual({
      size: metadata.size,
      sha256: metadata.sha256,
      type: metadata.mimeType,
    });

    const deleted = await alice.DELETE('/api/v1/media/{id}', { params: { path } });
    expect([deleted.response.status, deleted.error]).toEqual([204, undefined]);
    const gone = await alice.GET('/api/v1/media/{id}/metadata', { params: { path } });
    // `error.code` is typed with the codes this route declares: comparing it with one the route cannot answer would not compile.
    expect([gone.response.status, gone.data, gone.error?.code === 'NOT_FOUND']).toEqual([404, undefined, true]);
    expect(gone.error).toEqual({
      statusCode: 404,
      code: 'NOT_FOUND',
      message: expect.any(String),
      requestId: gone.response.headers.get('x-request-id'),
    });
    expect(t.tempFiles()).toEqual([]);
  });

  it('sends the token it is given, or asks for it at each request', async () => {
    const stranger = createMediaClient({ baseUrl: t.url, token: 'not-a-token' });
    const refused = await stranger.GET('/api/v1/media/storage');
    expect([refused.response.status, refused.error?.code === 'UNAUTHORIZED']).toEqual([401, true]);

    const asked: string[] = [];
    const bob = createMediaClient({ baseUrl: t.url, token: () => (asked.push('bob'), t.token('bob')) });
    const storage = ok(await bob.GET('/api/v1/media/storage'));
    expect([storage.fileCount, storage.usedBytes, asked]).toEqual([0, 0, ['bob']]);
  });

  it("README's example compiles against it", async () => {
    const example =
      /## Generated client[\s\S]*?```ts\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))?.[1] ?? '';
    expect(example).toContain("from './clients/typescript'");
    expect(
      await typeErrors(
        example.replace("'./clients/typescript'", `'${join(ROOT, 'clients', 'typescript', 'index.js')}'`),
      ),
    ).toBe('');
  });
});
