import { cpus, platform, release, totalmem } from 'node:os';
import { availableTiers } from '../kernels/registry.js';
import { loadModel } from '../model/load_model.js';
import type { BackendName, Model } from '../model/model.js';
import { onnxruntimeVersion } from '../onnx/version.js';
import { measureStepLatency, type LatencyResult } from './latency.js';

export interface BenchModel {
  /** How the model was made (`random lmu_rnn_conv1d dim 256 seed 0`, or a path). */
  label: string;
  bytes: Uint8Array;
  /** Firing rates of the spiking layers on the bench input, when known. */
  spikeRates?: Record<string, number>;
}

export interface BenchOptions {
  /** Batch sizes to time (streams stepped together). */
  streams: number[];
  /** Backends to time; default every kernel tier available here plus onnx where it is installed. */
  backends?: BackendName[];
  /** Also time int8 weights (the opt-in `int8` load option) on every kernel tier. */
  int8?: boolean;
  steps: number;
  minSteps: number;
  budgetMs: number;
  seed: number;
  progress?: (line: string) => void;
}

export interface BackendResult extends LatencyResult {
  backend: BackendName;
  /** Weight storage: float32, or int8 with per-row scales (kernel tiers, `--int8`). */
  weights: 'f32' | 'int8';
  /** Median step time relative to onnxruntime-node at the same batch (null without onnx). */
  vsOnnx: number | null;
  /** Per-stream cost relative to the same backend's batch-1 step (null without batch 1): median, and CPU time. */
  vsBatch1: number | null;
  cpuVsBatch1: number | null;
  /** Spike layers: the fraction of their inputs that were 1, as the kernels saw them (mean over layers; WASM tiers). */
  spikeDensity: number | null;
}

/** Kernel tiers that count the spikes their spike layers see (the WASM tiers). */
interface SpikeCounting {
  spikeStats(reset?: boolean): { density: number }[];
}

function spikeDensity(model: Model, reset: boolean): number | null {
  const k = model.kernels as Partial<SpikeCounting> | null;
  if (!k?.spikeStats) return null;
  const layers = k.spikeStats(reset);
  return layers.length ? layers.reduce((a, l) => a + l.density, 0) / layers.length : null;
}

export interface ModelBenchResult {
  model: string;
  variant: string;
  config: Readonly<Record<string, unknown>>;
  parameters: number;
  macsPerFrame: number;
  /** Bytes of recurrent state one stream holds, per backend (onnx packs float64 as float32 pairs). */
  stateBytesPerStream: Partial<Record<BackendName, number>>;
  spikeRates?: Record<string, number>;
  results: BackendResult[];
}

export interface BenchReport {
  edgestream: string;
  date: string;
  machine: { cpu: string; cores: number; memoryBytes: number; platform: string; node: string; onnxruntime: string | null };
  settings: { streams: number[]; steps: number; minSteps: number; budgetMs: number; seed: number; backends: BackendName[]; int8: boolean; onnxThreads: number };
  models: ModelBenchResult[];
  /** Peak resident memory of the whole run. */
  peakRssBytes: number;
}

/** Every kernel tier here, and onnx where onnxruntime-node is installed (an optional peer dependency). */
export function defaultBackends(): BackendName[] {
  return onnxruntimeVersion() === null ? availableTiers() : [...availableTiers(), 'onnx'];
}

/** Every backend × batch size for each model, in one process (one thread per backend: the ONNX backend is set to one intra-op thread). */
export async function runBench(models: BenchModel[], o: BenchOptions, version: string): Promise<BenchReport> {
  const backends = o.backends ?? defaultBackends();
  const results: ModelBenchResult[] = [];
  for (const m of models) {
    let first: Model | null = null;
    const stateBytes: Partial<Record<BackendName, number>> = {};
    const rows: BackendResult[] = [];
    for (const backend of backends) {
      for (const weights of backend !== 'onnx' && o.int8 ? (['f32', 'int8'] as const) : (['f32'] as const)) {
        const model = await loadModel(m.bytes, { backend, intraOpNumThreads: 1, int8: weights === 'int8' });
        first ??= model;
        stateBytes[backend] = model.stateBytes;
        for (const batch of o.streams) {
          o.progress?.(`${m.label} · ${backend}${weights === 'int8' ? ' int8' : ''} · batch ${batch}`);
          spikeDensity(model, true);
          const r = measureStepLatency(model, { batch, steps: o.steps, minSteps: o.minSteps, budgetMs: o.budgetMs, seed: o.seed, warmupMs: Math.min(300, o.budgetMs) });
          rows.push({ backend, weights, ...r, vsOnnx: null, vsBatch1: null, cpuVsBatch1: null, spikeDensity: spikeDensity(model, true) });
        }
      }
    }
    for (const r of rows) {
      const onnx = rows.find((x) => x.backend === 'onnx' && x.batch === r.batch);
      r.vsOnnx = onnx ? r.medianUs / onnx.medianUs : null;
      const one = rows.find((x) => x.backend === r.backend && x.weights === r.weights && x.batch === 1);
      r.vsBatch1 = one ? r.perStreamUs / one.medianUs : null;
      r.cpuVsBatch1 = one ? r.cpuPerStreamUs / one.cpuPerStreamUs : null;
    }
    const d = first!.describe();
    results.push({
      model: m.label, variant: first!.variant, config: first!.config, parameters: d.parameters, macsPerFrame: d.macsPerFrame,
      stateBytesPerStream: stateBytes, ...(m.spikeRates && { spikeRates: m.spikeRates }), results: rows,
    });
  }
  return {
    edgestream: version,
    date: new Date().toISOString(),
    machine: machine(),
    settings: { streams: o.streams, steps: o.steps, minSteps: o.minSteps, budgetMs: o.budgetMs, seed: o.seed, backends, int8: o.int8 === true, onnxThreads: 1 },
    models: results,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

export function machine(): BenchReport['machine'] {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, memoryBytes: totalmem(), platform: `${platform()} ${release()}`,
    node: process.version, onnxruntime: onnxruntimeVersion(),
  };
}
