#!/usr/bin/env node
// What this machine allows one core with 128-bit WebAssembly SIMD, and what that means for a
// float32 LMUFormer step: read bandwidth by working-set size (L1 … DRAM), the multiply-add peak
// (mul + add, and fused where relaxed SIMD exists), then per model the time floors of batch 1
// (weights stream from cache AND every multiply-add is done) and of a large batch (weights stay
// in cache: only the arithmetic is left). Best of repeated runs (ceilings); numbers go to the README.
//   npm run build && node scripts/roofline.mjs [--json]
import { spawnSync } from 'node:child_process';
import asc from 'assemblyscript/asc';

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
if (!process.execArgv.includes(RELAXED_FLAG) && spawnSync(process.execPath, [RELAXED_FLAG, '-e', '0']).status === 0) {
  const r = spawnSync(process.execPath, [RELAXED_FLAG, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const json = process.argv.includes('--json');
const log = (s) => process.stderr.write(`${s}\n`);

async function compile(features) {
  const outputs = {};
  const { error, stderr } = await asc.main([new URL('./roofline/probe.ts', import.meta.url).pathname, '-o', 'probe.wasm', '--runtime', 'stub', '--importMemory', '--initialMemory', '1', '--enable', features, '-O3', '--noAssert'], {
    writeFile: (name, contents) => { outputs[name] = contents; },
  });
  if (error) throw new Error(`${error.message}\n${stderr}`);
  return outputs['probe.wasm'];
}

const relaxedOk = WebAssembly.validate(await compile('simd,relaxed-simd'));
const bytes = await compile(relaxedOk ? 'simd,relaxed-simd' : 'simd');
const memory = new WebAssembly.Memory({ initial: 1 });
memory.grow(1100); // ~70 MiB
const { exports: k } = (await WebAssembly.instantiate(bytes, { env: { memory, abort() {} } })).instance;
new Uint8Array(memory.buffer).fill(1);

/** The fastest of n runs: a ceiling is what the core does when nothing else gets in the way. */
const best = (f, n) => {
  let t = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
};

const bandwidth = [];
for (const kib of [16, 256, 768, 2048, 6 * 1024, 12 * 1024, 24 * 1024, 64 * 1024]) {
  const size = kib * 1024;
  const reps = Math.max(1, Math.floor(2e8 / size));
  k.read(65536, size, 1);
  const ms = best(() => k.read(65536, size, reps), 11);
  bandwidth.push({ kib, gbPerS: (size * reps) / ms / 1e6 });
  log(`read ${String(kib).padStart(6)} KiB: ${bandwidth.at(-1).gbPerS.toFixed(1)} GB/s`);
}
const N = 2e7;
k.muladd(1000);
const mulAdd = (40 * N) / best(() => k.muladd(N), 9) / 1e6;
log(`mul + add peak: ${mulAdd.toFixed(1)} GMAC/s`);
let fused = null;
if (relaxedOk) {
  k.fma(1000);
  fused = (40 * N) / best(() => k.fma(N), 9) / 1e6;
  log(`fused multiply-add peak: ${fused.toFixed(1)} GMAC/s`);
}

// The dense float32 model: weights read per step and multiply-adds per step. (The spiking variants'
// event-driven layers do less arithmetic and read only the rows of active inputs.)
const { lmuformerMacs } = await import(new URL('../dist/models/lmuformer/family.js', import.meta.url).href);
const { randomLmuformerModel } = await import(new URL('../dist/models/lmuformer/random_model.js', import.meta.url).href);
const at = (kib) => bandwidth.reduce((best, b) => (b.kib <= kib ? b : best), bandwidth[0]).gbPerS;
const models = [];
for (const variant of ['lmu_rnn_conv1d']) {
  const { config } = randomLmuformerModel({ variant, dim: 256, seed: 0, calibrationFrames: 1 });
  const macs = lmuformerMacs(variant, config);
  const weightBytes = 4 * macs;
  const gb = at(weightBytes / 1024);
  const m = {
    variant, macs, weightBytes, readGbPerS: gb,
    memoryFloorUs: weightBytes / gb / 1e3,
    computeFloorUs: { mulAdd: macs / mulAdd / 1e3, fused: fused && macs / fused / 1e3 },
  };
  models.push(m);
  log(`${variant} dim 256 (dense float32): ${(weightBytes / 2 ** 20).toFixed(1)} MiB of weights, ${(macs / 1e6).toFixed(2)} M MACs per frame: ` +
    `reading the weights takes ≥ ${m.memoryFloorUs.toFixed(0)} µs (${gb.toFixed(0)} GB/s), the arithmetic ≥ ${m.computeFloorUs.mulAdd.toFixed(0)} µs (mul + add)` +
    (fused ? ` / ${m.computeFloorUs.fused.toFixed(0)} µs (fused)` : '') + '; a batch can only remove the first');
}
if (json) process.stdout.write(`${JSON.stringify({ node: process.version, bandwidth, peakGmacPerS: { mulAdd, fused }, models }, null, 1)}\n`);
