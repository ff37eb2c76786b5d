import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { startTestApp, type TestApp } from '../support/app';
import { request, upload } from '../support/http';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/*
 * A video accepted with 202 has its poster frame from the upload: a chat shows it while the
 * transcode runs. An API-only process runs no jobs, so the media stays processing here for
 * as long as the test looks.
 */
describe('previews of a media still processing', () => {
  const work = mkdtempSync(join(tmpdir(), 'media-test-poster-'));
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { MEDIA_ROLE: 'api', PROCESSING_BUDGET_SECONDS: '0' } });
  });
  afterAll(async () => {
    await t.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('serves the previews listed in the 202 answer to whoever may read the media; the file itself stays 409', async () => {
    const path = join(work, 'clip.webm');
    ffmpeg(...lavfi('testsrc2=size=320x240:rate=25:duration=2'), '-c:v', 'libvpx', '-b:v', '300k', path);
    const owner = await t.token('poster');
    const accepted = await upload(t.url, owner, { name: 'clip.webm', bytes: readFileSync(path) });
    expect(accepted.status).toBe(202);
    expect(accepted.json.previews.map((p: { size: number }) => p.size)).toEqual([64, 256, 512]);
    for (const { size, width, height } of accepted.json.previews) {
      const preview = await request(`${t.url}/api/v1/media/${accepted.json.id}/preview?size=${size}`, { token: owner });
      expect(preview.status).toBe(200);
      expect(preview.headers.get('content-type')).toBe('image/webp');
      expect(await sharp(preview.body).metadata()).toMatchObject({ format: 'webp', width, height });
    }
    const file = await request(`${t.url}/api/v1/media/${accepted.json.id}`, { token: owner });
    expect([file.status, file.json.code]).toEqual([409, 'MEDIA_NOT_READY']);
    // Still nobody else's: another user gets 404, an admin the preview.
    expect(
      (await request(`${t.url}/api/v1/media/${accepted.json.id}/preview`, { token: await t.token('stranger') })).status,
    ).toBe(404);
    expect(
      (
        await request(`${t.url}/api/v1/media/${accepted.json.id}/preview`, {
          token: await t.token('root', { roles: ['admin'] }),
        })
      ).status,
    ).toBe(200);
  });
});
