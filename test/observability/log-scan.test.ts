import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../support/app';
import { countLines, scanLogs } from '../support/log-scan';
import { KEY_A, TEST_JWT_SECRET } from '../support/secrets';

/** The scan the run's teardown makes of every log line its services wrote (test/support/global-teardown.ts). */
describe('the log scan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'media-test-scan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes what the service writes: redacted tokens, request lines', () => {
    const clean = [
      {
        level: 30,
        req: { id: 'r1', method: 'GET', url: '/api/v1/media/x?token=[redacted]' },
        res: { statusCode: 200 },
      },
      {
        level: 30,
        req: { id: 'r2', method: 'POST', url: '/api/v1/media/upload' },
        userId: 'u',
        stagesMs: { receive: 1 },
      },
    ];
    writeFileSync(join(dir, 'clean.log'), clean.map((line) => JSON.stringify(line)).join('\n'));
    expect(scanLogs(dir)).toEqual([]);
    expect(countLines(dir)).toBe(2);
  });

  it('finds every kind of secret a log line could leak', async () => {
    const jwt = await signToken('leaky');
    const leaks = [
      `{"msg":"secret ${TEST_JWT_SECRET}"}`,
      `{"msg":"key ${KEY_A.slice(2)}"}`,
      `{"msg":"token ${jwt}"}`,
      `{"headers":{"authorization":"Bearer abcdefgh12345678"}}`,
      `{"url":"/api/v1/media/x/download?token=v1.abc.def"}`,
      `{"msg":"-----BEGIN PRIVATE KEY-----"}`,
      `{"body":"X5O!P%@AP[4\\\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"}`,
    ];
    writeFileSync(join(dir, 'leaky.log'), leaks.join('\n'));
    const found = scanLogs(dir);
    expect(found).toHaveLength(leaks.length); // one finding per leaking line, none in clean.log
    expect(found.every((finding) => finding.startsWith('leaky.log: '))).toBe(true);
  });
});
