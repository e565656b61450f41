import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The shared golden vectors (read-only, produced by the official implementations). */
export const GOLDEN = process.env.EDGESTREAM_GOLDEN ?? resolve(ROOT, '../shared/golden');
/** The built command line (scripts/test.mjs builds it before the tests run). */
export const CLI = join(ROOT, 'dist/cli/main.js');

export function goldenAvailable(): boolean {
  return existsSync(GOLDEN);
}
