import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * A real browser for the tests: Debian's chromium (scripts/system-packages.txt) driven by
 * playwright-core, which downloads no browser of its own. Pages are served by a small
 * server on another origin than the API, so every request they make crosses CORS.
 */

export const CHROMIUM = '/usr/bin/chromium';

/** Headless chromium; fails (never skips) when the package is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser tests need the Debian package "chromium" (npm test installs it; or apt-get install -y chromium)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox as root; nothing fetched from the network behind the test's back.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface PageServer {
  /** scheme://host:port, what the browser sends as Origin. */
  origin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

/** Serves `files` (URL path → file on disk, read at each request) on 127.0.0.1; anything else is 404. */
export async function servePages(files: Record<string, string>): Promise<PageServer> {
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://page').pathname];
    if (!file || req.method !== 'GET') return void res.writeHead(404).end();
    res
      .writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-store',
      })
      .end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The URL of a page that calls the API at `api` with `token` (in the fragment: never sent to a server). */
export function pageUrl(server: PageServer, path: string, api: string, token: string): string {
  return `${server.origin}${path}#${new URLSearchParams({ api, token })}`;
}

// page.evaluate runs these functions in the page, where `mediaPage` is the upload page's own (test/browser/page.html).

/** Gives the open page another bearer token (another user). */
export async function useToken(page: Page, token: string): Promise<void> {
  await page.evaluate((next) => (globalThis as any).mediaPage.setToken(next), token);
}

/** Clicks a button of the upload page and resolves with its outcome, once shown. */
export async function clickAndWait(page: Page, selector: string): Promise<any> {
  await page.click(selector);
  await page.waitForFunction(() => !(globalThis as any).mediaPage.busy);
  return page.evaluate(() => (globalThis as any).mediaPage.last);
}
