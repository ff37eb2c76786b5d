import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app';
import { request, uploadFixture } from '../support/http';
import { type S3Server, startS3Server } from '../support/s3-server';
import { waitFor } from '../support/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const PNG = 'png-rgba-alpha-yellow-rose.png';

describe('the service on STORAGE_DRIVER=s3 (s3rver)', () => {
  let s3: S3Server;
  let bucket: string;
  let t: TestApp;
  beforeAll(async () => {
    s3 = await startS3Server();
    bucket = await s3.newBucket();
    t = await startTestApp({ env: s3.env(bucket) });
  });
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });

  it('is ready once the bucket answers', async () => {
    const ready = await request(`${t.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json.info.storage).toMatchObject({ status: 'up' });
  });

  it('uploads a PNG into the bucket, serves it whole, by range and as a preview, and deletes every blob of it', async () => {
    const alice = await t.token('alice');
    const created = await uploadFixture(t.url, alice, PNG);
    expect(created.status).toBe(201);
    expect(t.tempFiles()).toEqual([]); // the sealed temp file was moved into the bucket (putFile)
    const blobs = await s3.keys(bucket, 'blobs/');
    expect(blobs.length).toBeGreaterThan(1); // the stored file and its previews
    // Under the environment (NODE_ENV=test) and the media's type: one bucket serves several environments.
    for (const key of blobs) expect(key).toMatch(/^blobs\/test\/image\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    expect(existsSync(join(t.dataDir, 'storage', 'blobs'))).toBe(false); // nothing of it on the local disk

    const url = `${t.url}/api/v1/media/${created.json.id}`;
    const metadata = await request(`${url}/metadata`, { token: alice });
    expect(metadata.status).toBe(200);
    const download = await request(url, { token: alice });
    expect(download.status).toBe(200);
    expect({ size: download.body.length, sha256: sha256(download.body) }).toEqual({
      size: metadata.json.size,
      sha256: metadata.json.sha256,
    });
    expect(metadata.json.size).toBeGreaterThan(70_000); // more than one 64 KiB segment: ranges read parts of the object

    // Across the first segment boundary of the sealed blob, and the very last byte.
    const last = download.body.length - 1;
    for (const [start, end] of [
      [65_500, 65_600],
      [last, last],
    ]) {
      const part = await request(url, { token: alice, headers: { Range: `bytes=${start}-${end}` } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${start}-${end}/${download.body.length}`);
      expect(part.body.equals(download.body.subarray(start, end + 1))).toBe(true);
    }
    const preview = await request(`${url}/preview?size=64`, { token: alice });
    expect([preview.status, preview.headers.get('content-type')]).toEqual([200, 'image/webp']);

    expect((await request(url, { method: 'DELETE', token: alice })).status).toBe(204);
    expect((await request(url, { token: alice })).status).toBe(404);
    // The blobs go in a background job: wait until the bucket holds none of them.
    await waitFor(async () => (await s3.keys(bucket, 'blobs/')).length === 0, 60_000);
  });

  it('answers 503 with Retry-After, and is not ready, while the store is down', async () => {
    const bob = await t.token('bob');
    const created = await uploadFixture(t.url, bob, PNG);
    expect(created.status).toBe(201);
    await s3.stop();
    const download = await request(`${t.url}/api/v1/media/${created.json.id}`, { token: bob });
    expect([download.status, download.json?.code, download.headers.get('retry-after')]).toEqual([
      503,
      'DEPENDENCY_UNAVAILABLE',
      '5',
    ]);
    const upload = await uploadFixture(t.url, bob, 'jpeg-exif-gps-nikon-d2h.jpg');
    expect([upload.status, upload.json?.code]).toEqual([503, 'DEPENDENCY_UNAVAILABLE']);
    expect(t.tempFiles()).toEqual([]);
    expect((await request(`${t.url}/health/ready`)).status).toBe(503);
  });
});
