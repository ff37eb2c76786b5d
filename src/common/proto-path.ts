import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Finds proto/<name>.proto by walking up from `from`: the same code runs from src/ (jest)
 * and dist/src/ (the build, which does not copy proto/).
 */
export function protoPath(name: string, from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto', `${name}.proto`);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`proto/${name}.proto not found above ${from}`);
  }
}
