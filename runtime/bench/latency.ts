import type { Model } from '../model/model.js';
import { createState } from '../stream/state.js';
import { Random } from '../util/random.js';

export interface LatencyOptions {
  /** Streams stepped together (the batch). */
  batch: number;
  /** Most timed steps. */
  steps: number;
  /** Stop timing after this long (ms) once `minSteps` are in. */
  budgetMs: number;
  minSteps: number;
  seed: number;
}

export interface LatencyResult {
  batch: number;
  steps: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  /** Median step time divided by the batch: the cost of one stream's frame. */
  perStreamUs: number;
  /** Streams one core keeps in real time at 100 frames/s, from the median: batch × 10 ms / step. */
  realtimeStreamsPerCore: number;
}

/** Frames of N(0, 1) noise: the input the random models' BatchNorms are calibrated on. */
export function noiseFrames(count: number, dim: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return rng.fill(count * dim, (r) => r.normal());
}

/**
 * Time single batched steps of a model's program on `batch` fresh streams, after enough warm-up
 * steps that every stream is past the look-ahead (all layers run). Each sample is one `step` call.
 */
export function measureStepLatency(model: Model, o: LatencyOptions): LatencyResult {
  const program = model.createProgram({ maxBatch: o.batch });
  const states = Array.from({ length: o.batch }, () => createState(program.stateSizes));
  const F = program.inputDim;
  const pool = 64;
  const frames = noiseFrames(pool * o.batch, F, o.seed);
  const out = new Float32Array(o.batch * program.outputDim);
  const ready = new Uint8Array(o.batch);
  let k = 0;
  const step = (): void => {
    const off = (k++ % pool) * o.batch * F;
    program.step(states, o.batch, frames.subarray(off, off + o.batch * F), out, ready);
  };
  for (let i = 0; i < program.delay + 8; i++) step();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < o.steps && (samples.length < o.minSteps || performance.now() - start < o.budgetMs)) {
    const t0 = process.hrtime.bigint();
    step();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  const q = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  const medianUs = q(0.5);
  return {
    batch: o.batch,
    steps: samples.length,
    medianUs,
    p99Us: q(0.99),
    meanUs: samples.reduce((a, b) => a + b, 0) / samples.length,
    perStreamUs: medianUs / o.batch,
    realtimeStreamsPerCore: Math.floor((o.batch * 10_000) / medianUs),
  };
}
