#!/usr/bin/env node
// The package build: TypeScript → dist/, plus the assets the runtime loads at run time.
// Runs on `npm ci` (prepare) so that a fresh clone has a working `edgestream` command.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildWasm } from './build_wasm.mjs';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules/.bin', name);

function run(what, cmd, args) {
  process.stderr.write(`build: ${what}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    process.stderr.write(`build: ${what} failed\n`);
    process.exit(r.status ?? 1);
  }
}

run('typescript', bin('tsc'), ['-p', 'tsconfig.build.json']);
// tsc never deletes: drop outputs whose source is gone (a moved or removed module), so that neither
// the package nor the tests see stale code.
for (const file of readdirSync(join(root, 'dist'), { recursive: true }).map(String)) {
  const source = file.match(/^(.*)(?:\.js|\.d\.ts|\.js\.map|\.d\.ts\.map)$/)?.[1];
  if (source !== undefined && !existsSync(join(root, `${source}.ts`)) && !existsSync(join(root, `${source}.js`))) rmSync(join(root, 'dist', file));
}
// The WASM kernels, compiled from runtime/kernels/assembly (never committed as binaries).
process.stderr.write('build: wasm kernels\n');
try {
  await buildWasm();
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
// Non-TypeScript assets that live beside the code that loads them.
for (const dir of ['transports/webrtc/page']) {
  if (existsSync(join(root, dir))) {
    mkdirSync(join(root, 'dist', dir), { recursive: true });
    cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });
  }
}
if (existsSync(join(root, 'dist/cli/main.js'))) chmodSync(join(root, 'dist/cli/main.js'), 0o755);
