import { geluExact } from '../../runtime/layers/activations.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';
import { encodeModelFile } from '../../runtime/model/model_file.js';
import { defaultLabels } from './labels.js';
import { legendreMemory } from './legendre.js';
import { parameterSpec, speechCommandsConfig, type LmuformerConfig, type Variant } from './variants.js';

/**
 * Random-weight LMUFormer models for benchmarks and tests, built so that they behave like trained
 * ones where it matters for speed: PyTorch's default initialisation for every conv/linear, the
 * real Legendre memory matrices, and BatchNorm statistics calibrated on a forward pass over
 * fbank-like input, so that every BN sees normalised activations and every spiking layer fires
 * at a rate drawn per channel from `firingRate` (default 15–40 %, the natural range of trained
 * spiking LMUFormers). Spike rates set the cost of the event-driven kernels, so a model with
 * untouched BN statistics (all channels silent, or all firing) would measure nothing real.
 */
export interface RandomModelOptions {
  /** Model dimensions; default the Speech Commands configuration (dim 256, 1 block). */
  config?: LmuformerConfig;
  seed?: number;
  /** Range of per-channel target firing rates of the LIF layers. */
  firingRate?: readonly [number, number];
  /** The calibration pass: streams × frames of `randomFeatures`. */
  calibration?: { streams: number; frames: number };
}

export interface RandomModel {
  bytes: Uint8Array;
  variant: Variant;
  config: LmuformerConfig;
  /** Mean firing rate of each LIF layer on the calibration input, by its BatchNorm's name. */
  firingRates: Record<string, number>;
}

export function randomLmuformerModel(variant: Variant, options: RandomModelOptions = {}): RandomModel {
  const config = options.config ?? speechCommandsConfig(variant);
  const rng = new Random(options.seed ?? 1);
  const spec = parameterSpec(variant, config);
  const params = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [key, shape] of spec) {
    const n = shape.reduce((a, b) => a * b, 1);
    params.set(key, { shape, data: new Float32Array(n) });
  }
  const p = (key: string): Float32Array => params.get(key)!.data;
  // PyTorch's default: U(−1/√fan_in, 1/√fan_in) for weights and biases of conv and linear layers.
  for (const [key, shape] of spec) {
    const prefix = key.slice(0, key.lastIndexOf('.'));
    const isBn = spec.has(`${prefix}.running_mean`);
    if (isBn) {
      if (key.endsWith('.weight') || key.endsWith('.running_var')) p(key).fill(1);
    } else if (key.endsWith('.weight')) {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      rng.uniformFill(p(key), 1 / Math.sqrt(fanIn));
      const bias = spec.get(`${prefix}.bias`);
      if (bias) rng.uniformFill(p(`${prefix}.bias`), 1 / Math.sqrt(fanIn));
    }
  }
  for (let b = 0; b < config.depths; b++) {
    const { a, b: bb } = legendreMemory(config.memory);
    p(`block.${b}.attn.lmu.A`).set(a);
    p(`block.${b}.attn.lmu.B`).set(bb);
  }
  const cal = options.calibration ?? { streams: 2, frames: 96 };
  const input = randomFeatures(cal.streams, cal.frames, config.mels, (options.seed ?? 1) + 1000);
  const firingRates = new Calibration(variant, config, p, rng, options.firingRate ?? [0.15, 0.4]).run(input, cal.streams, cal.frames);
  const bytes = encodeModelFile({
    arch: 'lmuformer', variant, config: { ...config }, labels: defaultLabels(config.classes),
    frontend: { ...LMUFORMER_FRONTEND, melBins: config.mels }, name: `random-${variant}-d${config.dim}`,
  }, params);
  return { bytes, variant, config, firingRates };
}

/**
 * fbank-like input `[streams, frames, mels]`: per mel bin an AR(1) process with correlation 0.9
 * between frames and standard deviation 0.5 (the official normalisation (x − mean)/(2·std)).
 */
export function randomFeatures(streams: number, frames: number, mels: number, seed = 7): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(streams * frames * mels);
  const rho = 0.9;
  const innovation = 0.5 * Math.sqrt(1 - rho * rho);
  for (let s = 0; s < streams; s++) {
    for (let m = 0; m < mels; m++) {
      let v = 0.5 * rng.normal();
      for (let t = 0; t < frames; t++) {
        out[(s * frames + t) * mels + m] = v;
        v = rho * v + innovation * rng.normal();
      }
    }
  }
  return out;
}

/** One stream's activations over time, `[T, C]` row-major, float64. */
interface Seq {
  readonly T: number;
  readonly C: number;
  readonly d: Float64Array;
}
type Batch = Seq[];

/**
 * The official parallel forward (eval mode), whole sequences at a time in float64, computing
 * each BatchNorm's statistics from its actual input just before applying it.
 */
class Calibration {
  private readonly rates: Record<string, number> = {};

  constructor(
    private readonly variant: Variant,
    private readonly c: LmuformerConfig,
    private readonly p: (key: string) => Float32Array,
    private readonly rng: Random,
    private readonly firingRate: readonly [number, number],
  ) {}

  run(input: Float32Array, streams: number, frames: number): Record<string, number> {
    const { mels, depths } = this.c;
    let x: Batch = Array.from({ length: streams }, (_, s) => ({ T: frames, C: mels, d: Float64Array.from(input.subarray(s * frames * mels, (s + 1) * frames * mels)) }));
    let e: Batch;
    if (this.variant === 'lmu_rnn_conv1d') {
      for (let i = 0; i < 4; i++) x = this.bnPlain(relu(this.conv3(x, `patch_embed.conv_layers.${i}.0.weight`)), `patch_embed.conv_layers.${i}.3`);
      e = add(x, this.conv3(x, 'patch_embed.rpe_conv.weight'));
    } else if (this.variant === 'slmu_rnn_conv1d') {
      for (const s of ['', '1', '2', '3']) x = this.bnLif(this.conv3(x, `patch_embed.proj_conv${s}.weight`), `patch_embed.proj_bn${s}`);
      e = add(x, this.bnLif(this.conv3(x, 'patch_embed.rpe_conv.weight'), 'patch_embed.rpe_bn'));
    } else {
      for (const s of ['', '1', '2']) x = this.bnLif(this.conv3(x, `patch_embed.proj_conv${s}.weight`), `patch_embed.proj_bn${s}`);
      x = this.conv3(x, 'patch_embed.proj_conv3.weight');
      e = add(x, this.conv3(this.bnLif(x, 'patch_embed.proj_bn3'), 'patch_embed.rpe_conv.weight'));
    }
    for (let b = 0; b < depths; b++) e = this.block(e, `block.${b}`);
    if (this.variant === 'slmu_rnn_ms_conv1d') this.bnLif(e, 'head_bn');
    return this.rates;
  }

  private block(e: Batch, prefix: string): Batch {
    const a = `${prefix}.attn`;
    const m = `${prefix}.mlp`;
    if (this.variant === 'lmu_rnn_conv1d') {
      const u = relu(this.linear(e, `${a}.lmu.W_u`));
      const mem = this.memory(u, a);
      const h = relu(this.linear(concat(mem, e), `${a}.lmu.W_h`));
      e = add(e, this.bnPlain(this.linear(h, `${a}.proj_conv`), `${a}.proj_bn`));
      const f = gelu(this.bnPlain(this.linear(e, `${m}.fc1_conv`), `${m}.fc1_bn`));
      return add(e, relu(this.bnPlain(this.linear(f, `${m}.fc2_conv`), `${m}.fc2_bn`)));
    }
    const ms = this.variant === 'slmu_rnn_ms_conv1d';
    const xin = ms ? this.bnLif(e, `${a}.prev_bn`, 0.5) : e;
    const u = this.bnLif(this.linear(xin, `${a}.lmu.W_u`), `${a}.lmu.bn_u`);
    const mem = this.bnLif(this.memory(u, a), `${a}.lmu.bn_m`);
    const h = this.bnLif(this.linear(concat(mem, xin), `${a}.lmu.W_h`), `${a}.lmu.bn_h`);
    const proj = this.linear(h, `${a}.proj_conv`);
    e = add(e, ms ? this.bnPlain(proj, `${a}.proj_bn`) : this.bnLif(proj, `${a}.proj_bn`));
    if (ms) {
      const f = this.linear(this.bnLif(e, `${m}.fc1_bn`), `${m}.fc1_conv`);
      return add(e, this.linear(this.bnLif(f, `${m}.fc2_bn`), `${m}.fc2_conv`));
    }
    const f = this.bnLif(this.linear(e, `${m}.fc1_conv`), `${m}.fc1_bn`);
    return add(e, this.bnLif(this.linear(f, `${m}.fc2_conv`), `${m}.fc2_bn`));
  }

  /** Conv1d, kernel 3, padding 1, no bias; weight `[out, in, 3]`. */
  private conv3(xs: Batch, key: string): Batch {
    const w = this.p(key);
    return xs.map(({ T, C: I, d }) => {
      const O = w.length / (3 * I);
      const y = new Float64Array(T * O);
      for (let t = 0; t < T; t++) {
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let k = 0; k < 3; k++) {
            const tt = t + k - 1;
            if (tt < 0 || tt >= T) continue;
            for (let i = 0; i < I; i++) s += w[(o * I + i) * 3 + k]! * d[tt * I + i]!;
          }
          y[t * O + o] = s;
        }
      }
      return { T, C: O, d: y };
    });
  }

  /** Linear / Conv1d kernel 1 with bias: `prefix.weight` `[out, in(, 1)]`, `prefix.bias`. */
  private linear(xs: Batch, prefix: string): Batch {
    const w = this.p(`${prefix}.weight`);
    const b = this.p(`${prefix}.bias`);
    return xs.map(({ T, C: I, d }) => {
      const O = b.length;
      const y = new Float64Array(T * O);
      for (let t = 0; t < T; t++) {
        for (let o = 0; o < O; o++) {
          let s = b[o]!;
          for (let i = 0; i < I; i++) s += w[o * I + i]! * d[t * I + i]!;
          y[t * O + o] = s;
        }
      }
      return { T, C: O, d: y };
    });
  }

  /** m_t = A m_{t−1} + B u_t over the sequence (u: one channel). */
  private memory(us: Batch, attn: string): Batch {
    const A = this.p(`${attn}.lmu.A`);
    const B = this.p(`${attn}.lmu.B`);
    const M = B.length;
    return us.map(({ T, d }) => {
      const y = new Float64Array(T * M);
      const prev = new Float64Array(M);
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < M; i++) {
          let s = B[i]! * d[t]!;
          for (let j = 0; j < M; j++) s += A[i * M + j]! * prev[j]!;
          y[t * M + i] = s;
        }
        prev.set(y.subarray(t * M, (t + 1) * M));
      }
      return { T, C: M, d: y };
    });
  }

  /** Per-channel mean and variance over every stream and frame. */
  private stats(xs: Batch): { mean: Float64Array; variance: Float64Array } {
    const C = xs[0]!.C;
    const mean = new Float64Array(C);
    const sq = new Float64Array(C);
    let n = 0;
    for (const { T, d } of xs) {
      n += T;
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < C; c++) {
          const v = d[t * C + c]!;
          mean[c]! += v;
          sq[c]! += v * v;
        }
      }
    }
    const variance = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      mean[c]! /= n;
      variance[c] = Math.max(sq[c]! / n - mean[c]! * mean[c]!, 1e-6);
    }
    return { mean, variance };
  }

  /** A BatchNorm whose statistics match its input, weight 1, bias 0. */
  private bnPlain(xs: Batch, bn: string): Batch {
    const { mean, variance } = this.stats(xs);
    this.p(`${bn}.running_mean`).set(mean);
    this.p(`${bn}.running_var`).set(variance);
    return xs.map((x) => normalise(x, mean, variance, null));
  }

  /**
   * A BatchNorm feeding a LIF: statistics from its input, weight 1, and per channel the bias
   * that makes the LIF fire at a target rate drawn from `firingRate` (bisection: the rate only
   * grows with the bias). Returns the spikes.
   */
  private bnLif(xs: Batch, bn: string, threshold = 1): Batch {
    const { mean, variance } = this.stats(xs);
    const C = xs[0]!.C;
    const z = xs.map((x) => normalise(x, mean, variance, null));
    const bias = new Float64Array(C);
    const [lo, hi] = this.firingRate;
    for (let c = 0; c < C; c++) {
      const target = lo + (hi - lo) * this.rng.uniform();
      let a = -6;
      let b = 6;
      for (let it = 0; it < 30; it++) {
        const mid = (a + b) / 2;
        if (channelRate(z, c, mid, threshold) < target) a = mid;
        else b = mid;
      }
      bias[c] = (a + b) / 2;
    }
    this.p(`${bn}.running_mean`).set(mean);
    this.p(`${bn}.running_var`).set(variance);
    this.p(`${bn}.bias`).set(bias);
    const spikes = z.map(({ T, d }) => {
      const s = new Float64Array(T * C);
      for (let c = 0; c < C; c++) {
        let v = 0;
        for (let t = 0; t < T; t++) {
          const h = v + (d[t * C + c]! + bias[c]! - v) / 2;
          const fire = h >= threshold;
          v = fire ? 0 : h;
          s[t * C + c] = fire ? 1 : 0;
        }
      }
      return { T, C, d: s };
    });
    let fired = 0;
    let total = 0;
    for (const { d } of spikes) {
      for (const v of d) fired += v;
      total += d.length;
    }
    this.rates[bn] = fired / total;
    return spikes;
  }
}

function channelRate(z: Batch, c: number, bias: number, threshold: number): number {
  let fired = 0;
  let total = 0;
  for (const { T, C, d } of z) {
    let v = 0;
    for (let t = 0; t < T; t++) {
      const h = v + (d[t * C + c]! + bias - v) / 2;
      if (h >= threshold) {
        fired++;
        v = 0;
      } else {
        v = h;
      }
    }
    total += T;
  }
  return fired / total;
}

function normalise({ T, C, d }: Seq, mean: Float64Array, variance: Float64Array, bias: Float64Array | null): Seq {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) y[t * C + c] = (d[t * C + c]! - mean[c]!) / Math.sqrt(variance[c]! + 1e-5) + (bias ? bias[c]! : 0);
  }
  return { T, C, d: y };
}

const map = (xs: Batch, f: (v: number) => number): Batch => xs.map(({ T, C, d }) => ({ T, C, d: d.map(f) }));
const relu = (xs: Batch): Batch => map(xs, (v) => (v > 0 ? v : 0));
const gelu = (xs: Batch): Batch => map(xs, geluExact);
const add = (a: Batch, b: Batch): Batch => a.map(({ T, C, d }, s) => ({ T, C, d: d.map((v, i) => v + b[s]!.d[i]!) }));

function concat(a: Batch, b: Batch): Batch {
  return a.map((x, s) => {
    const y = b[s]!;
    const C = x.C + y.C;
    const d = new Float64Array(x.T * C);
    for (let t = 0; t < x.T; t++) {
      d.set(x.d.subarray(t * x.C, (t + 1) * x.C), t * C);
      d.set(y.d.subarray(t * y.C, (t + 1) * y.C), t * C + x.C);
    }
    return { T: x.T, C, d };
  });
}

/** A small seeded generator (mulberry32) with uniform and normal draws. */
class Random {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  uniformFill(a: Float32Array, bound: number): void {
    for (let i = 0; i < a.length; i++) a[i] = (2 * this.uniform() - 1) * bound;
  }
}
