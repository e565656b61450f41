#!/usr/bin/env node
// The package build: TypeScript → dist/, plus the assets the runtime loads at run time.
// Runs on `npm ci` (prepare) so that a fresh clone has a working `edgestream` command.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync } from 'node:fs';
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
