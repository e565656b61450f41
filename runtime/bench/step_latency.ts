import { EdgestreamError } from '../errors.js';
import type { Model } from '../model/model.js';
import { createState } from '../stream/state.js';

export interface StepLatencyOptions {
  /** Streams stepped together as one batch (1 = the batch-1 latency). */
  streams: number;
  /** Input frames `[streams, frames, inputDim]`, cycled through (streams keep their state). */
  features: Float32Array;
  frames: number;
  /** Timed steps (default 400) after `warmup` untimed ones (default 100, at least the delay). */
  steps?: number;
  warmup?: number;
}

export interface StepLatency {
  streams: number;
  steps: number;
  /** Per batched step, microseconds. */
  medianUs: number;
  p99Us: number;
  meanUs: number;
  /** Median step time divided by the number of streams. */
  perStreamUs: number;
  /** Process CPU time per step (µs): robust to other load on a shared machine. */
  cpuUs: number;
}

/**
 * Time `program.step` of a model on a batch of streams, one frame per stream per step, on the
 * model's own backend. Measures the steady state: the warm-up fills every look-ahead, so each
 * timed step runs the whole network. Blocks the thread while it runs.
 */
export function measureStepLatency(model: Model, options: StepLatencyOptions): StepLatency {
  const { streams, features, frames } = options;
  const steps = options.steps ?? 400;
  const warmup = Math.max(options.warmup ?? 100, model.delay + 1);
  const dim = model.inputDim;
  if (features.length !== streams * frames * dim) {
    throw new EdgestreamError('E_INPUT_SHAPE', `features hold ${features.length} values, expected ${streams}×${frames}×${dim}`);
  }
  const program = model.createProgram({ maxBatch: streams });
  const states = Array.from({ length: streams }, () => createState(program.stateSizes));
  const input = new Float32Array(streams * dim);
  const out = new Float32Array(streams * model.outputDim);
  const ready = new Uint8Array(streams);
  const times = new Float64Array(steps);
  let cpu0 = process.cpuUsage();
  for (let k = 0; k < warmup + steps; k++) {
    if (k === warmup) cpu0 = process.cpuUsage();
    const t = k % frames;
    for (let s = 0; s < streams; s++) input.set(features.subarray((s * frames + t) * dim, (s * frames + t + 1) * dim), s * dim);
    const t0 = process.hrtime.bigint();
    program.step(states, streams, input, out, ready);
    const dt = Number(process.hrtime.bigint() - t0) / 1e3;
    if (k >= warmup) times[k - warmup] = dt;
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(times).sort();
  const median = sorted[Math.floor(steps / 2)]!;
  return {
    streams, steps,
    medianUs: median,
    p99Us: sorted[Math.min(steps - 1, Math.floor(steps * 0.99))]!,
    meanUs: times.reduce((a, b) => a + b, 0) / steps,
    perStreamUs: median / streams,
    cpuUs: (cpu.user + cpu.system) / steps,
  };
}
