import { EdgestreamError } from '../../runtime/errors.js';
import type { Kernels } from '../../runtime/kernels/types.js';
import type { StreamProgram } from '../../runtime/stream/program.js';
import { StateLayout, type StreamState } from '../../runtime/stream/state.js';
import type { LayerConfig, RuntimeOptions } from './config.js';
import { LactLayer } from './layers/lact_layer.js';
import { rmsNorm } from './math.js';
import type { TttModelSpec } from './model_spec.js';
import { specDims } from './model_spec.js';
import { Numerics, type ParamSource, type Precision, type Projection, type Vec } from './numeric.js';
import { resolveSchedule, SwigluFastWeights } from './layers/swiglu_fast_weight.js';
import type { TokenMixer } from './layers/token_mixer.js';
import { TttLayer } from './layers/ttt_layer.js';

export interface TttProgramOptions {
  maxBatch?: number;
  precision?: Precision;
  /** Override the model file's runtime options (schedule, spreading, frozen fast weights). */
  runtime?: Partial<RuntimeOptions>;
}

export function buildMixer(num: Numerics, layout: StateLayout, name: string, c: LayerConfig, param: ParamSource, maxBatch: number, runtime: RuntimeOptions): TokenMixer {
  return c.kind === 'ttt' ? new TttLayer(num, layout, name, c, param, maxBatch, runtime) : new LactLayer(num, layout, name, c, param, maxBatch, runtime);
}

/**
 * A TTT model (any variant) as a streaming program. Every output is ready with its input
 * (delay 0). `stepVec` runs on buffers of the program's precision; `step` is the float32
 * `StreamProgram` face that `Session` uses.
 */
export class TttProgram implements StreamProgram {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly delay = 0;
  readonly stateSizes: { f32: number; f64: number };
  readonly maxBatch: number;
  readonly layout = new StateLayout();
  readonly precision: Precision;
  readonly runtime: RuntimeOptions;
  /** The layers, in order (for describe and the benchmarks). */
  readonly mixers: TokenMixer[] = [];

  private readonly run: (states: readonly StreamState[], n: number) => void;
  private readonly input: Vec;
  private readonly output: Vec;
  readonly macsPerToken: number;

  constructor(readonly spec: TttModelSpec, param: ParamSource, kernels: Kernels | null, options: TttProgramOptions = {}) {
    const maxBatch = (this.maxBatch = options.maxBatch ?? 1);
    this.precision = options.precision ?? 'float32';
    const num = new Numerics(this.precision, kernels);
    const runtime = (this.runtime = { ...spec.runtime, ...options.runtime });
    const { inputDim, outputDim } = specDims(spec);
    this.inputDim = inputDim;
    this.outputDim = outputDim;
    this.input = num.alloc(maxBatch * inputDim);
    this.output = num.alloc(maxBatch * outputDim);
    const layout = this.layout;

    if (spec.variant === 'layer') {
      const mixer = buildMixer(num, layout, 'layer', spec.config.layer, param, maxBatch, runtime);
      this.mixers.push(mixer);
      this.macsPerToken = mixer.macsPerToken;
      this.run = (states, n) => mixer.step(states, n, this.input, this.output);
    } else if (spec.variant === 'fast_weight_op') {
      const c = spec.config;
      const sched = resolveSchedule(runtime.schedule, c.use_muon, runtime.muon_spread_tokens, c.chunk_size, 'fast_weight_op');
      const op = new SwigluFastWeights(num, layout, 'op', { heads: c.heads, d: c.dim, dh: c.hidden, chunk: c.chunk_size, muon: c.use_muon, momentum: c.use_momentum, prenorm: c.prenorm },
        { ...sched, learn: runtime.fast_weight_updates }, param('w0'), param('w1'), param('w2'));
      this.macsPerToken = op.macsPerToken;
      const H = c.heads;
      const d = c.dim;
      const per = 3 * d + 3 + (c.use_momentum ? 1 : 0);
      const q = num.alloc(H * d), k = num.alloc(H * d), v = num.alloc(H * d), lr = num.alloc(3 * H), mom = num.alloc(H);
      this.run = (states, n) => {
        for (let r = 0; r < n; r++) {
          const x = this.input;
          for (let h = 0; h < H; h++) {
            const o = r * this.inputDim + h * per;
            for (let i = 0; i < d; i++) { q[h * d + i] = x[o + i]!; k[h * d + i] = x[o + d + i]!; v[h * d + i] = x[o + 2 * d + i]!; }
            lr[3 * h] = x[o + 3 * d]!; lr[3 * h + 1] = x[o + 3 * d + 1]!; lr[3 * h + 2] = x[o + 3 * d + 2]!;
            mom[h] = c.use_momentum ? x[o + 3 * d + 3]! : 0;
          }
          op.step(states[r]!, q, 0, k, 0, v, 0, lr, 0, c.use_momentum ? mom : null, 0, this.output, r * this.outputDim);
        }
      };
    } else {
      const c = spec.config;
      const C = c.hidden_size;
      const inProj: Projection = num.dense('input_proj', param('input_proj.weight'), param('input_proj.bias'), C, c.input_dim);
      const head: Projection = num.dense('head', param('head.weight'), param('head.bias'), c.output_dim, C);
      const norms = c.layers.map((_, i) => num.constant(param(`layers.${i}.norm.weight`)));
      const finalNorm = num.constant(param('norm.weight'));
      c.layers.forEach((l, i) => {
        const p: ParamSource = (key) => param(`layers.${i}.mixer.${key}`);
        this.mixers.push(buildMixer(num, layout, `layers.${i}`, l, p, maxBatch, runtime));
      });
      const h = num.alloc(maxBatch * C);
      const xn = num.alloc(maxBatch * C);
      const y = num.alloc(maxBatch * C);
      this.macsPerToken = C * c.input_dim + c.output_dim * C + this.mixers.reduce((a, m) => a + m.macsPerToken, 0);
      this.run = (states, n) => {
        inProj.apply(this.input, h, n);
        this.mixers.forEach((mixer, i) => {
          for (let r = 0; r < n; r++) rmsNorm(xn, r * C, h, r * C, C, norms[i]!, 0, c.norm_eps);
          mixer.step(states, n, xn, y);
          for (let j = 0; j < n * C; j++) h[j] = h[j]! + y[j]!;
        });
        for (let r = 0; r < n; r++) rmsNorm(xn, r * C, h, r * C, C, finalNorm, 0, c.norm_eps);
        head.apply(xn, this.output, n);
      };
    }
    this.stateSizes = layout.sizes;
  }

  /** Advance `n` streams by one token: `input` `[n, inputDim]` → `out` `[n, outputDim]` (any precision). */
  stepVec(states: readonly StreamState[], n: number, input: ArrayLike<number>, out: Vec): void {
    if (n > this.maxBatch) throw new EdgestreamError('E_INPUT_SHAPE', `batch of ${n} exceeds this model instance's maxBatch ${this.maxBatch}`);
    const len = n * this.inputDim;
    for (let i = 0; i < len; i++) this.input[i] = input[i]!;
    this.run(states, n);
    const m = n * this.outputDim;
    for (let i = 0; i < m; i++) out[i] = this.output[i]!;
  }

  step(states: readonly StreamState[], rows: number, input: Float32Array, out: Float32Array, ready: Uint8Array): void {
    this.stepVec(states, rows, input, out);
    ready.fill(1, 0, rows);
  }

  flush(): Float32Array[] {
    return [];
  }
}
