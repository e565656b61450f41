#!/usr/bin/env node
// Compiles the AssemblyScript kernels (runtime/kernels/assembly) to WebAssembly, twice:
//   dist/runtime/kernels/wasm/kernels.wasm          baseline SIMD (tier 'wasm')
//   dist/runtime/kernels/wasm/kernels-relaxed.wasm  + relaxed SIMD (tier 'wasm-relaxed')
// Both import one shared memory from JS (see runtime/kernels/wasm/heap.ts for why shared).
// Usage: node scripts/build_wasm.mjs [--if-stale]   (--if-stale: only when a source is newer)
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import asc from 'assemblyscript/asc';

const root = new URL('..', import.meta.url).pathname;
const srcDir = join(root, 'runtime/kernels/assembly');
const outDir = join(root, 'dist/runtime/kernels/wasm');
const entry = join(srcDir, 'index.ts');

export const WASM_OUTPUTS = [
  { file: 'kernels.wasm', features: ['simd', 'threads'] },
  { file: 'kernels-relaxed.wasm', features: ['simd', 'threads', 'relaxed-simd'] },
];

/** True when an output is missing or older than any kernel source (or this script). */
export function wasmIsStale() {
  const sources = [...readdirSync(srcDir).map((f) => join(srcDir, f)), new URL(import.meta.url).pathname];
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  return WASM_OUTPUTS.some(({ file }) => {
    const out = join(outDir, file);
    return !existsSync(out) || statSync(out).mtimeMs < newest;
  });
}

export async function buildWasm() {
  mkdirSync(outDir, { recursive: true });
  for (const { file, features } of WASM_OUTPUTS) {
    const args = [
      entry, '-o', join(outDir, file),
      '--runtime', 'stub', '--importMemory', '--sharedMemory', '--noExportMemory',
      '--initialMemory', '1', '--maximumMemory', '65536',
      '--enable', features.join(','),
      '-O3', '--noAssert',
    ];
    const { error, stderr } = await asc.main(args, {});
    if (error) {
      process.stderr.write(stderr.toString());
      throw new Error(`build: AssemblyScript kernels (${file}) failed: ${error.message}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!process.argv.includes('--if-stale') || wasmIsStale()) {
    process.stderr.write('build: wasm kernels\n');
    buildWasm().catch((e) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    });
  }
}
