#!/usr/bin/env node
// The kernel tiers side by side: step latency of random-weight dim-256 Speech Commands LMUFormers
// (BatchNorm calibrated to natural spike rates) on js, wasm, wasm-relaxed and onnxruntime-node,
// float32 and int8 weights, batch 1 and batched, with the spike density the kernels saw.
//   npm run build && node scripts/bench_kernels.mjs [--json] [--variants a,b] [--tiers js,wasm,wasm-relaxed,onnx] [--streams 1,64]
// On Node 20 the 'wasm-relaxed' tier needs V8's --experimental-wasm-relaxed-simd: the script
// re-runs itself with it when the engine knows the flag. Numbers go to the README, not to tests.
// (`edgestream bench` is the product's benchmark; this one adds int8 and spike densities.)
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
if (!process.execArgv.includes(RELAXED_FLAG) && spawnSync(process.execPath, [RELAXED_FLAG, '-e', '0']).status === 0) {
  const r = spawnSync(process.execPath, [RELAXED_FLAG, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const { randomLmuformerModel } = await load('models/lmuformer/random_model.js');
const { loadModel } = await load('runtime/model/load_model.js');
const { measureStepLatency, noiseFrames } = await load('runtime/bench/latency.js');
const { createState } = await load('runtime/stream/state.js');

/**
 * CPU time per step (process user + system, µs) over `steps` steady-state steps: on a machine
 * shared with other jobs, wall-clock medians of long batched steps include time the process
 * spent descheduled; CPU time does not.
 */
function cpuPerStep(model, batch, steps) {
  const program = model.createProgram({ maxBatch: batch });
  const states = Array.from({ length: batch }, () => createState(program.stateSizes));
  const F = program.inputDim;
  const frames = noiseFrames(64 * batch, F, 1);
  const out = new Float32Array(batch * program.outputDim);
  const ready = new Uint8Array(batch);
  const step = (k) => program.step(states, batch, frames.subarray((k % 64) * batch * F, ((k % 64) + 1) * batch * F), out, ready);
  for (let k = 0; k < program.delay + 8; k++) step(k);
  const c0 = process.cpuUsage();
  for (let k = 0; k < steps; k++) step(k);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / steps;
}

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    variants: { type: 'string', default: 'lmu_rnn_conv1d,slmu_rnn_ms_conv1d' },
    tiers: { type: 'string', default: 'js,wasm,wasm-relaxed,onnx' },
    streams: { type: 'string', default: '1,64' },
    dim: { type: 'string', default: '256' },
    seed: { type: 'string', default: '0' },
  },
});
const log = (s) => process.stderr.write(`${s}\n`);
const seed = Number(values.seed);
const rows = [];
for (const variant of values.variants.split(',')) {
  log(`building a random ${variant} (dim ${values.dim}, seed ${seed}) and calibrating its BatchNorms...`);
  const m = randomLmuformerModel({ variant, dim: Number(values.dim), seed });
  for (const backend of values.tiers.split(',')) {
    for (const int8 of backend === 'onnx' ? [false] : [false, true]) {
      let model;
      try {
        model = await loadModel(m.bytes, { backend, int8, intraOpNumThreads: 1 });
      } catch (e) {
        log(`skipping ${backend}: ${e.message}`);
        break;
      }
      for (const batch of values.streams.split(',').map(Number)) {
        if (backend === 'js' && batch > 1) continue; // the oracle, not a batched engine
        const r = measureStepLatency(model, { batch, steps: backend === 'js' ? 100 : 2000, minSteps: 30, budgetMs: batch > 1 ? 3000 : 1500, seed });
        const spikes = model.kernels?.spikeStats?.(true) ?? [];
        const density = spikes.length ? spikes.reduce((a, s) => a + s.density, 0) / spikes.length : null;
        const cpuUs = backend === 'onnx' ? null : cpuPerStep(model, batch, backend === 'js' ? 20 : batch > 1 ? 40 : 1000);
        const row = { variant, backend, weights: int8 ? 'int8' : 'f32', batch, medianUs: r.medianUs, p99Us: r.p99Us, perStreamUs: r.perStreamUs, cpuPerStreamUs: cpuUs === null ? null : cpuUs / batch, spikeDensity: density };
        rows.push(row);
      }
    }
  }
}
for (const r of rows) {
  const ort = rows.find((o) => o.variant === r.variant && o.backend === 'onnx' && o.batch === r.batch);
  const b1 = rows.find((o) => o.variant === r.variant && o.backend === r.backend && o.weights === r.weights && o.batch === 1);
  r.vsOnnx = ort ? r.medianUs / ort.medianUs : null;
  r.perStreamVsBatch1 = b1 && r.batch > 1 ? r.perStreamUs / b1.medianUs : null;
  r.cpuPerStreamVsBatch1 = b1 && r.batch > 1 && r.cpuPerStreamUs !== null ? r.cpuPerStreamUs / b1.cpuPerStreamUs : null;
}
if (values.json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, rows }, null, 1)}\n`);
} else {
  const f = (v, d = 1) => (v === null || v === undefined ? '-' : v.toFixed(d));
  process.stdout.write('variant             backend       weights batch   median µs    p99 µs  µs/stream  × onnx  × batch-1  cpu µs/stream  cpu × batch-1  spikes\n');
  for (const r of rows) {
    process.stdout.write(`${r.variant.padEnd(20)}${r.backend.padEnd(14)}${r.weights.padEnd(8)}${String(r.batch).padStart(5)}${f(r.medianUs).padStart(12)}${f(r.p99Us).padStart(10)}${f(r.perStreamUs).padStart(11)}${f(r.vsOnnx, 2).padStart(8)}${f(r.perStreamVsBatch1, 2).padStart(10)}${f(r.cpuPerStreamUs).padStart(15)}${f(r.cpuPerStreamVsBatch1, 2).padStart(15)}${(r.spikeDensity === null ? '-' : `${(r.spikeDensity * 100).toFixed(1)} %`).padStart(8)}\n`);
  }
}
