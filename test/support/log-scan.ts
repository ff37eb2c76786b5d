import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_A, KEY_B, TEST_JWT_SECRET } from './secrets';

/**
 * What must never reach a log line: the test run's secrets (JWT secret, master keys), any
 * JWT, a bearer credential, a signed-URL token, key material in PEM, and file content (the
 * EICAR test file the antivirus tests upload).
 */
const keyMaterial = (key: string) => key.slice(key.indexOf(':') + 1);
export const FORBIDDEN: { name: string; pattern: RegExp }[] = [
  { name: 'the JWT secret', pattern: new RegExp(TEST_JWT_SECRET) },
  { name: 'a master key', pattern: new RegExp(`${escape(keyMaterial(KEY_A))}|${escape(keyMaterial(KEY_B))}`) },
  { name: 'a JWT', pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/ },
  { name: 'a bearer credential', pattern: /Bearer [A-Za-z0-9._~+/-]{8,}/i },
  { name: 'a signed-URL token', pattern: /[?&]token=(?!\[redacted\])[^&\s"]+/ },
  { name: 'a private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { name: 'file content (EICAR)', pattern: /EICAR-STANDARD-ANTIVIRUS-TEST-FILE/ },
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every line of every file under `dir` that matches a forbidden pattern, as "file: what (line start)". */
export function scanLogs(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n');
    for (const line of lines) {
      for (const { name: what, pattern } of FORBIDDEN) {
        if (pattern.test(line)) found.push(`${name}: ${what} in ${JSON.stringify(line.slice(0, 160))}`);
      }
    }
  }
  return found;
}

/** How many log lines the run wrote (a scan of nothing proves nothing). */
export function countLines(dir: string): number {
  return readdirSync(dir).reduce(
    (total, name) => total + readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).length,
    0,
  );
}
