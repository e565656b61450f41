import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The shared golden vectors (read-only, produced by the official implementations). They live beside
 * the checkout in the workplace (`../shared/golden`); a clone elsewhere finds them through
 * EDGESTREAM_GOLDEN or the workplace path. Missing goldens are an error, never a silent skip.
 */
function findGolden(): string {
  const candidates = [process.env.EDGESTREAM_GOLDEN, resolve(ROOT, '../shared/golden'), '/work/shared/golden'];
  for (const c of candidates) if (c && existsSync(join(c, 'lmuformer'))) return c;
  throw new Error(`golden vectors not found (looked in ${candidates.filter(Boolean).join(', ')}); set EDGESTREAM_GOLDEN`);
}
export const GOLDEN = findGolden();

/** The built command line (scripts/test.mjs builds it before the tests run). */
export const CLI = join(ROOT, 'dist/cli/main.js');
