import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TempFiles } from '../../../src/media/temp-files';

describe('TempFiles.lazyDir: a work directory made only when a processor names it', () => {
  const root = mkdtempSync(join(tmpdir(), 'media-test-temp-'));
  const temp = new TempFiles(root);
  afterAll(() => {
    temp.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('makes nothing until its path is read', () => {
    const work = temp.lazyDir();
    expect(work.made).toBe(false);
    expect(readdirSync(temp.dir)).toEqual([]);
  });

  it('makes one private directory at the first read, the same at every read after', () => {
    const work = temp.lazyDir();
    const path = work.path;
    expect(work.made).toBe(true);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o700);
    writeFileSync(join(work.path, 'stored'), 'x');
    expect(work.path).toBe(path);
    expect(readdirSync(path)).toEqual(['stored']);
    rmSync(path, { recursive: true });
    expect(existsSync(path)).toBe(false);
  });

  it('gives each upload its own', () => {
    expect(temp.lazyDir().path).not.toBe(temp.lazyDir().path);
  });
});
