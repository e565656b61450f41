import type { TensorToWrite } from '../../runtime/io/safetensors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { BackendName } from '../../runtime/model/model.js';
import { encodeModelFile } from '../../runtime/model/model_file.js';
import { Random } from '../../runtime/util/random.js';
import type { LayerConfig, RuntimeOptions } from './config.js';
import { layerParamSpec, shapeSize } from './params.js';

/**
 * Per-token latency of each TTT layer kind at an edge size, measured through the public API
 * (model file → `loadModel` → `Session.push`), with the chunk-boundary tokens reported apart.
 * Weights are random (seeded): speed does not depend on them.
 */
export interface TttBenchOptions {
  width?: number;
  heads?: number;
  tokens?: number;
  warmup?: number;
  /** LaCT chunk size (TTT mini-batch stays at the official 16). */
  chunk?: number;
  window?: number;
  /** Tokens Muon's update is spread over in the `lact_muon_spread` case. */
  spread?: number;
  kinds?: BenchKind[];
  backend?: BackendName | 'auto';
}

export const BENCH_KINDS = ['ttt_linear', 'ttt_mlp', 'lact', 'lact_muon', 'lact_muon_spread'] as const;
export type BenchKind = (typeof BENCH_KINDS)[number];

export interface TttBenchResult {
  kind: BenchKind;
  tier: string;
  width: number;
  heads: number;
  /** Mini-batch (TTT) or chunk (LaCT) size: every this many tokens a boundary update runs. */
  boundaryEvery: number;
  schedule: string;
  tokens: number;
  medianUs: number;
  p99Us: number;
  maxUs: number;
  p99OverMedian: number;
  /** Median latency of boundary tokens and of the others; their difference is the boundary cost. */
  boundaryMedianUs: number;
  otherMedianUs: number;
  boundaryCostUs: number;
  macsPerToken: number;
}

function layerConfig(kind: BenchKind, o: Required<Omit<TttBenchOptions, 'kinds' | 'backend'>>): LayerConfig {
  if (kind === 'ttt_linear' || kind === 'ttt_mlp') {
    return { kind: 'ttt', hidden_size: o.width, num_attention_heads: o.heads, mini_batch_size: 16, ttt_base_lr: kind === 'ttt_linear' ? 1 : 0.1, rope_theta: 10000, share_qk: false, use_gate: false, conv_kernel: 4, ttt_layer_type: kind === 'ttt_linear' ? 'linear' : 'mlp' };
  }
  return {
    kind: 'lact', hidden_size: o.width, num_attn_heads: o.heads, num_lact_heads: o.heads, inter_multi: 1, window_size: o.window, lact_chunk_size: o.chunk,
    qkv_bias: false, attn_qk_norm: false, qkv_silu: true, no_v_silu: false, lr_dim: 1, use_muon: kind !== 'lact', lr_parameterization: 'mamba',
    learnable_ttt_scale: true, ttt_prenorm: false, ttt_nope: false, rope_theta: 10000, w0_w2_low_rank: 32, use_momentum: true, fw_init_gain: 0.5, max_position_embeddings: 2048,
  };
}

/** A random-weight single-layer model file of the kind (the benchmark's subject; also handy in tests). */
export function randomLayerModel(c: LayerConfig, runtime: Partial<RuntimeOptions> = {}, seed = 1): Uint8Array {
  const r = new Random(seed);
  const tensors = new Map<string, TensorToWrite>();
  for (const [key, shape] of layerParamSpec(c)) {
    const n = shapeSize(shape);
    const data = new Float32Array(n);
    const ones = /norm(\.|_)weight$|^qk_scale$/.test(key);
    for (let i = 0; i < n; i++) data[i] = ones ? 1 : 0.02 * r.normal() * (key.includes('w_left') || key.includes('w_right') || key === 'w1' ? 10 : 1);
    tensors.set(key, { shape, data });
  }
  return encodeModelFile({ arch: 'ttt', variant: 'layer', config: { layer: c, runtime }, labels: [], frontend: null, name: `bench-${c.kind}` }, tensors);
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!;
}

export async function runTttBench(options: TttBenchOptions = {}, progress?: (line: string) => void): Promise<TttBenchResult[]> {
  const o = { width: 256, heads: 4, tokens: 1024, warmup: 64, chunk: 64, window: 64, spread: 32, ...options };
  const kinds = options.kinds ?? [...BENCH_KINDS];
  const results: TttBenchResult[] = [];
  for (const kind of kinds) {
    const c = layerConfig(kind, o);
    const runtime: Partial<RuntimeOptions> = kind === 'lact_muon_spread' ? { schedule: 'deferred', muon_spread_tokens: o.spread } : {};
    const model = await loadModel(randomLayerModel(c, runtime), { backend: options.backend ?? 'auto' });
    const every = c.kind === 'ttt' ? c.mini_batch_size : c.lact_chunk_size;
    const r = new Random(7);
    const frames = Array.from({ length: 32 }, () => r.fill(o.width, (g) => g.normal()));
    const session = model.createSession();
    for (let t = 0; t < o.warmup; t++) session.push(frames[t % frames.length]!);
    const times = new Float64Array(o.tokens);
    const boundary: number[] = [];
    const other: number[] = [];
    for (let i = 0; i < o.tokens; i++) {
      const t = o.warmup + i;
      const f = frames[t % frames.length]!;
      const t0 = process.hrtime.bigint();
      session.push(f);
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      times[i] = us;
      // The boundary work runs on the last token of a chunk (or, spread, on the next few).
      const pos = t % every;
      const isBoundary = kind === 'lact_muon_spread' ? pos < o.spread && t >= every : pos === every - 1;
      (isBoundary ? boundary : other).push(us);
    }
    const sorted = Float64Array.from(times).sort();
    const med = (xs: number[]): number => quantile(Float64Array.from(xs).sort(), 0.5);
    const median = quantile(sorted, 0.5);
    const p99 = quantile(sorted, 0.99);
    const res: TttBenchResult = {
      kind, tier: model.backend, width: o.width, heads: o.heads, boundaryEvery: every,
      schedule: c.kind === 'lact' ? (kind === 'lact_muon_spread' ? `deferred, spread over ${o.spread}` : c.use_muon ? 'deferred (auto)' : 'incremental (auto)') : 'primal per token',
      tokens: o.tokens, medianUs: median, p99Us: p99, maxUs: sorted[sorted.length - 1]!, p99OverMedian: p99 / median,
      boundaryMedianUs: med(boundary), otherMedianUs: med(other), boundaryCostUs: med(boundary) - med(other),
      macsPerToken: model.describe().macsPerFrame,
    };
    results.push(res);
    progress?.(`${kind}: median ${median.toFixed(1)} µs, p99 ${p99.toFixed(1)} µs (${res.p99OverMedian.toFixed(2)}×), boundary +${res.boundaryCostUs.toFixed(1)} µs`);
  }
  return results;
}
