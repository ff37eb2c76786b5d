/** The test run's secrets: services under test use them, and no log line may contain them (log-scan.ts). */
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef-0123456789abcdef';
export const KEY_A = `a:${Buffer.alloc(32, 0xa1).toString('base64')}`;
export const KEY_B = `b:${Buffer.alloc(32, 0xb2).toString('base64')}`;
