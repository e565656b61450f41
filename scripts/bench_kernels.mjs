#!/usr/bin/env node
// Step latency of the kernel tiers on random-weight dim-256 Speech Commands LMUFormers (BN
// calibrated so spiking layers fire at 15–40 %): batch 1 and batched, float32 and int8.
// Runs the built package: `npm run build && node scripts/bench_kernels.mjs [--json]`
//   [--variants lmu_rnn_conv1d,slmu_rnn_ms_conv1d] [--tiers js,wasm,wasm-relaxed] [--streams 1,64]
// On Node 20 the 'wasm-relaxed' tier needs V8's --experimental-wasm-relaxed-simd: the script
// re-runs itself with it when the engine knows the flag. Numbers belong in the README, not tests.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
if (!process.execArgv.includes(RELAXED_FLAG) && spawnSync(process.execPath, [RELAXED_FLAG, '-e', '0']).status === 0) {
  const r = spawnSync(process.execPath, [RELAXED_FLAG, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const dist = new URL('../dist/', import.meta.url);
const { randomLmuformerModel, randomFeatures } = await import(new URL('models/lmuformer/random_model.js', dist).href);
const { loadModel } = await import(new URL('runtime/model/load_model.js', dist).href);
const { measureStepLatency } = await import(new URL('runtime/bench/step_latency.js', dist).href);
const { availableTiers, createKernels } = await import(new URL('runtime/kernels/registry.js', dist).href);

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    variants: { type: 'string', default: 'lmu_rnn_conv1d,slmu_rnn_ms_conv1d' },
    tiers: { type: 'string', default: 'js,wasm,wasm-relaxed' },
    streams: { type: 'string', default: '1,64' },
    dim: { type: 'string', default: '256' },
  },
});
const log = (s) => process.stderr.write(`${s}\n`);
const tiers = [];
for (const t of values.tiers.split(',')) {
  if (!availableTiers().includes(t)) continue;
  try {
    await createKernels(t);
    tiers.push(t);
  } catch (e) {
    log(`skipping ${t}: ${e.message}`);
  }
}
const frames = 128;
const rows = [];
for (const variant of values.variants.split(',')) {
  log(`building a random ${variant} (dim ${values.dim}) and calibrating its BatchNorms...`);
  const { speechCommandsConfig } = await import(new URL('models/lmuformer/variants.js', dist).href);
  const m = randomLmuformerModel(variant, { config: speechCommandsConfig(variant, Number(values.dim)), seed: 1 });
  for (const tier of tiers) {
    for (const int8 of [false, true]) {
      const model = await loadModel(m.bytes, { backend: tier, int8 });
      for (const streams of values.streams.split(',').map(Number)) {
        if (tier === 'js' && streams > 1) continue; // the oracle, not a batched engine
        const steps = tier === 'js' ? 100 : streams > 1 ? 60 : 1000;
        const r = measureStepLatency(model, { streams, features: randomFeatures(streams, frames, m.config.mels, 3), frames, steps, warmup: 20 });
        const spikes = model.kernels?.spikeStats?.(true) ?? [];
        const density = spikes.length ? spikes.reduce((a, s) => a + s.density, 0) / spikes.length : null;
        const row = { variant, tier, weights: int8 ? 'int8' : 'f32', streams, medianUs: r.medianUs, p99Us: r.p99Us, perStreamUs: r.perStreamUs, cpuPerStreamUs: r.cpuUs / streams, spikeDensity: density };
        rows.push(row);
        log(`${variant.padEnd(19)} ${tier.padEnd(12)} ${row.weights.padEnd(4)} ×${String(streams).padEnd(3)} median ${r.medianUs.toFixed(1).padStart(8)} µs  p99 ${r.p99Us.toFixed(1).padStart(8)} µs  per stream ${r.perStreamUs.toFixed(1).padStart(7)} µs (cpu ${row.cpuPerStreamUs.toFixed(1)})${density !== null ? `  spikes ${(density * 100).toFixed(1)} %` : ''}`);
      }
    }
  }
}
if (values.json) process.stdout.write(`${JSON.stringify({ node: process.version, rows }, null, 1)}\n`);
