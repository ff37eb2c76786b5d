import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { JobQueue, RENDER_PREVIEWS } from '../../src/jobs/job-queue';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';

/** What `command` prints of `data` (written to a temporary file, whose path replaces FILE in `args`). */
function toolOn(data: Buffer, command: string, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'media-test-doc-'));
  try {
    const path = join(dir, 'file');
    writeFileSync(path, data);
    return execFileSync(
      command,
      args.map((arg) => (arg === 'FILE' ? path : arg)),
    ).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('document processing', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('writer');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  async function previewOf(id: string, size: number) {
    const reply = await request(`${t.url}/api/v1/media/${id}/preview?size=${size}`, { token });
    expect(reply.status).toBe(200);
    return { image: sharp(reply.body), meta: await sharp(reply.body).metadata() };
  }

  it('PDF: stored without its Info dictionary, same pages and text, page count from poppler, first page as previews', async () => {
    const pdf = fixture('pdf-tables-gofpdf.pdf');
    const { status, json } = await uploadFixture(t.url, token, 'pdf-tables-gofpdf.pdf');
    expect(status).toBe(201);
    expect(json).toMatchObject({ mimeType: 'application/pdf', originalSize: pdf.length, metadata: { pages: 3 } });
    const served = (await request(`${t.url}/api/v1/media/${json.id}`, { token })).body;
    expect(json.size).toBe(served.length);
    expect(toolOn(served, 'pdfinfo', ['FILE'])).not.toMatch(/^Producer:/m);
    expect(toolOn(served, 'pdftotext', ['-layout', 'FILE', '-'])).toBe(
      toolOn(pdf, 'pdftotext', ['-layout', 'FILE', '-']),
    );
    expect(json.previews.map((p: { size: number; height: number }) => [p.size, p.height])).toEqual([
      [64, 64],
      [256, 256],
      [512, 512],
    ]);
    const { image, meta } = await previewOf(json.id, 512);
    expect([meta.format, meta.height]).toEqual(['webp', 512]);
    // A page of tables: mostly white with dark text, not a blank or black render.
    const { channels } = await image.stats();
    expect(channels[0].mean).toBeGreaterThan(150);
    expect(channels[0].min).toBeLessThan(80);
  });

  it('PDF that does not parse: 422 CORRUPT_FILE, nothing kept', async () => {
    const broken = Buffer.concat([fixture('pdf-tables-gofpdf.pdf').subarray(0, 1200), Buffer.from('\n%%EOF\n')]);
    const reply = await upload(t.url, await t.token('broken-pdf'), { name: 'broken.pdf', bytes: broken });
    expect(reply.status).toBe(422);
    expect(reply.json.code).toBe('CORRUPT_FILE');
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'broken-pdf'")).toEqual([]);
  });

  it('text: characters and lines counted, first lines drawn as previews', async () => {
    const text = fixture('txt-utf8-demo.txt');
    const { json } = await uploadFixture(t.url, token, 'txt-utf8-demo.txt');
    const decoded = text.toString('utf8');
    expect(json.metadata).toMatchObject({
      charset: 'utf-8',
      characters: Array.from(decoded).length,
      lines: decoded.split('\n').length - (decoded.endsWith('\n') ? 1 : 0),
    });
    const { image, meta } = await previewOf(json.id, 256);
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 256]);
    const { channels } = await image.stats();
    expect(channels[0].min).toBeLessThan(120); // some ink on the page
  });

  it('UTF-16 text with a big-endian mark is counted in characters, not bytes', async () => {
    const body = Buffer.from('\ufeffhello\nwörld\n', 'utf16le').swap16();
    const { json } = await upload(t.url, token, { name: 'be.txt', bytes: body });
    expect(json.metadata).toMatchObject({ charset: 'utf-16', characters: 12, lines: 2 });
  });
});

describe('Word documents', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('clerk');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  it.each([
    ['docx-python-docx-default.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['doc-word97.doc', 'application/msword'],
  ])(
    '%s: stored (a DOCX without its document properties), rendered by LibreOffice to its page count and first-page previews',
    async (name, mime) => {
      const bytes = fixture(name);
      const { status, json } = await uploadFixture(t.url, token, name);
      expect(status).toBe(201);
      expect(json).toMatchObject({ mimeType: mime, originalSize: bytes.length, metadata: { pages: 1 } });
      expect(json.previews.map((p: { size: number }) => p.size)).toEqual([64, 256, 512]);
      const preview = await request(`${t.url}/api/v1/media/${json.id}/preview?size=512`, { token });
      expect(await sharp(preview.body).metadata()).toMatchObject({ format: 'webp', height: 512 });
      const served = (await request(`${t.url}/api/v1/media/${json.id}`, { token })).body;
      expect(json.size).toBe(served.length);
      if (name.endsWith('.doc')) {
        expect(served.equals(bytes)).toBe(true); // DOC (OLE) is stored as uploaded
        return;
      }
      // The same entries, the document itself byte for byte; its creator is gone.
      expect(toolOn(served, 'unzip', ['-Z1', 'FILE'])).toBe(toolOn(bytes, 'unzip', ['-Z1', 'FILE']));
      expect(toolOn(served, 'unzip', ['-p', 'FILE', 'word/document.xml'])).toBe(
        toolOn(bytes, 'unzip', ['-p', 'FILE', 'word/document.xml']),
      );
      expect(toolOn(served, 'unzip', ['-p', 'FILE', 'docProps/core.xml'])).not.toContain('python-docx');
    },
  );
});

describe('preview rendering in the background', () => {
  it('renders the previews of a media that has none, from its stored version, when the job runs', async () => {
    const t = await startTestApp({ env: { JOB_POLL_SECONDS: '0.5' } });
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      const token = await t.token('late-previews');
      const { json } = await uploadFixture(t.url, token, 'pdf-tables-gofpdf.pdf');
      // As if the first page had failed to render at upload.
      await client.query('DELETE FROM previews WHERE media_id = $1', [json.id]);
      expect((await request(`${t.url}/api/v1/media/${json.id}/metadata`, { token })).json.previews).toEqual([]);
      await t.app
        .get(JobQueue)
        .send(RENDER_PREVIEWS, { mediaId: json.id }, { executeSql: (text, values) => client.query(text, values) });
      let previews: { size: number }[] = [];
      for (let i = 0; i < 60 && previews.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        previews = (await request(`${t.url}/api/v1/media/${json.id}/metadata`, { token })).json.previews;
      }
      expect(previews.map((p) => p.size)).toEqual([64, 256, 512]);
      const preview = await request(`${t.url}/api/v1/media/${json.id}/preview?size=512`, { token });
      expect(await sharp(preview.body).metadata()).toMatchObject({ format: 'webp', height: 512 });
      expect(t.tempFiles()).toEqual([]);
    } finally {
      await client.end();
      await t.close();
    }
  });
});
