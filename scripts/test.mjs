#!/usr/bin/env node
// Runs every test file under test/ with node's test runner (TypeScript through tsx).
// Usage: npm test [-- <substring filter>...]   e.g. `npm test -- conformance`
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => join('test', f));

if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
{
  // CLI tests run the built command line, and the WASM kernels come from the build: always rebuild
  // so that tests never run against a stale dist/.
  const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit', cwd: root });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
// Node 20 validates relaxed SIMD only behind a V8 flag (Node ≥ 22 by default): pass it when this
// engine knows it, so that the 'wasm-relaxed' kernel tier is tested too. The CLI tests spawn the
// command without it, as users run it.
const relaxed = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '-e', '0']).status === 0 ? ['--experimental-wasm-relaxed-simd'] : [];
// Tests import runtime modules directly, below the package root that registers the model families:
// register them the way the package root does (a test file run on its own without this gets
// loadModel's E_MODEL_FORMAT error naming the missing registration, never a silent difference).
const registerFamilies = pathToFileURL(join(root, 'models/register.ts')).href;
const r = spawnSync(process.execPath, [...relaxed, '--import', 'tsx', '--import', registerFamilies, '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(r.status ?? 1);
