import { startTestApp, type TestApp } from '../support/app';
import { request, upload } from '../support/http';

/** Notes people write start with whatever words they like, some of which are a format's signature. */
describe('text notes uploaded as users write them', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('notes');
  });
  afterAll(() => t.close());

  it.each([
    'BMW service notes\n',
    'MZ-5 mazda parts list\n',
    '#!AMR is the codec of old voice memos\n',
    '8BPS is how a PSD starts\n',
    'fLaC with a capital L\n',
    '-----BEGIN PGP MESSAGE-----\nhQEMA9xyz\n-----END PGP MESSAGE-----\n',
    'ID3 tags on the new album\n',
    'GIF87a versus GIF89a\n',
    '%PDF of the contract is attached\n',
  ])('stores %j as text/plain and gives it back byte for byte', async (note) => {
    const reply = await upload(t.url, token, { name: 'notes.txt', bytes: Buffer.from(note) });
    expect(reply.status).toBe(201);
    expect(reply.json).toMatchObject({
      type: 'document',
      mimeType: 'text/plain',
      originalMimeType: 'text/plain',
      metadata: { charset: 'utf-8' },
    });
    const back = await request(`${t.url}/api/v1/media/${reply.json.id}`, { token });
    expect(back.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(back.body.toString('utf8')).toBe(note);
  });
});
