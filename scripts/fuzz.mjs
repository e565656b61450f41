#!/usr/bin/env node
// Runs the property-based fuzz tests (test/fuzz/) long: FUZZ_RUNS runs per property (default
// 20000) from seed FUZZ_SEED (default: random, printed so that a failure can be replayed;
// fast-check prints the failing case's `path`, replayed with FUZZ_PATH=<path>).
// Usage: npm run fuzz [-- <substring filter>...]   e.g. FUZZ_RUNS=100000 npm run fuzz -- audio
// `npm test` runs the same properties with a fixed seed and a few hundred runs each.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test/fuzz'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => join('test/fuzz', f));
if (files.length === 0) {
  console.error(`no fuzz test files match ${filters.join(' ')}`);
  process.exit(1);
}
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
const runs = process.env.FUZZ_RUNS ?? '20000';
console.log(`fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${runs}${process.env.FUZZ_PATH ? ` FUZZ_PATH=${process.env.FUZZ_PATH}` : ''} (${files.length} files)`);
// The model families register as in `npm test` (scripts/test.mjs says why).
const registerFamilies = pathToFileURL(join(root, 'models/register.ts')).href;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', registerFamilies, '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_ENV: 'test', FUZZ_SEED: seed, FUZZ_RUNS: runs },
});
if (r.status !== 0) console.log(`fuzz: failed; replay with FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npm run fuzz`);
process.exit(r.status ?? 1);
