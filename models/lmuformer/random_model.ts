import { createJsKernels } from '../../runtime/kernels/js/index.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';
import { encodeModelFile } from '../../runtime/model/model_file.js';
import { createState } from '../../runtime/stream/state.js';
import { Random } from '../../runtime/util/random.js';
import { defaultLabels } from './labels.js';
import { LmuformerProgram } from './lmuformer.js';
import { legendreDelaySystem } from './lmu_matrices.js';
import { isSpiking, parameterSpec, type LmuformerConfig, type Variant } from './variants.js';

export interface RandomModelOptions {
  variant: Variant;
  dim?: number;
  depths?: number;
  mlpRatio?: number;
  mels?: number;
  classes?: number;
  seed?: number;
  /** Range of firing rates to calibrate each spiking layer to (default 15–40 %, like trained models). */
  rateRange?: [number, number];
  /** Frames of N(0, 1) input used for calibration. */
  calibrationFrames?: number;
}

export interface RandomModel {
  bytes: Uint8Array;
  config: LmuformerConfig;
  /** Firing rate of every spiking layer on the calibration input, by its BatchNorm name. */
  spikeRates: Record<string, number>;
}

/**
 * A random-weight LMUFormer in the official layout (for benchmarks and tests at sizes no golden
 * set covers). Weights follow the official initialisers; LMU A/B are the exact Legendre matrices;
 * BatchNorm statistics are calibrated on random input so that every spiking layer fires at a
 * natural rate — spike-sparse kernels are only measured honestly at realistic rates.
 */
export function randomLmuformerModel(options: RandomModelOptions): RandomModel {
  const { variant } = options;
  const dim = options.dim ?? 256;
  const config: LmuformerConfig = {
    dim, depths: options.depths ?? 1, mlpHidden: Math.floor(dim * (options.mlpRatio ?? 4)),
    mels: options.mels ?? 128, classes: options.classes ?? 35, memory: isSpiking(variant) ? 2 * dim : dim,
  };
  const rng = new Random(options.seed ?? 0);
  const params = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const lmu = legendreDelaySystem(config.memory, 128);
  for (const [key, shape] of parameterSpec(variant, config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (key.endsWith('.lmu.A')) data = lmu.a;
    else if (key.endsWith('.lmu.B')) data = lmu.b;
    else if (key.endsWith('running_mean')) data = new Float32Array(n);
    else if (key.endsWith('running_var')) data = new Float32Array(n).fill(1);
    else if (/(_bn\d?|\.bn_[umh]|conv_layers\.\d\.3|head_bn)\.weight$/.test(key)) data = rng.fill(n, (r) => r.uniform(0.5, 2));
    else if (/(_bn\d?|\.bn_[umh]|conv_layers\.\d\.3|head_bn)\.bias$/.test(key)) data = rng.fill(n, (r) => r.uniform(0, 1));
    else if (/(W_u|W_h|head)\.bias$/.test(key)) data = new Float32Array(n); // official init: 0
    else if (/(W_u|W_h|head)\.weight$/.test(key)) data = rng.fill(n, (r) => 0.02 * r.normal());
    else {
      // Conv1d (kernel 3 or 1) weights and biases: PyTorch's default U(±1/sqrt(fan_in)).
      const wShape = parameterSpec(variant, config).get(key.replace(/\.bias$/, '.weight'))!;
      const bound = 1 / Math.sqrt(wShape[1]! * (wShape[2] ?? 1));
      data = rng.fill(n, (r) => r.uniform(-bound, bound));
    }
    params.set(key, { shape, data });
  }

  const spikeRates = isSpiking(variant) ? calibrate(variant, config, params, rng, options) : {};
  const bytes = encodeModelFile({
    arch: 'lmuformer', variant, config: { ...config }, labels: defaultLabels(config.classes),
    frontend: { ...LMUFORMER_FRONTEND, melBins: config.mels },
    name: `random-${variant}-d${dim}-s${options.seed ?? 0}`,
  }, params);
  return { bytes, config, spikeRates };
}

/**
 * Rescale each spiking layer's BatchNorm so its LIF input is ~N(m, 0.5²) per channel, nudging m
 * until the layer fires at its target rate. Upstream layers settle first, so a few passes suffice.
 */
function calibrate(
  variant: Variant, config: LmuformerConfig, params: Map<string, { shape: readonly number[]; data: Float32Array }>,
  rng: Random, options: RandomModelOptions,
): Record<string, number> {
  const [lo, hi] = options.rateRange ?? [0.15, 0.4];
  const frames = options.calibrationFrames ?? 64;
  const input = rng.fill(frames * config.mels, (r) => r.normal());
  const targets = new Map<string, { rate: number; mean: number }>();
  const spread = 0.5;
  let rates: Record<string, number> = {};
  for (let pass = 0; pass < 8; pass++) {
    const program = new LmuformerProgram(variant, config, (k) => params.get(k)!.data, createJsKernels());
    for (const lif of program.neurons) {
      lif.observer = { sum: new Float64Array(lif.channels), sumSq: new Float64Array(lif.channels), spikes: 0, updates: 0 };
      if (!targets.has(lif.name)) targets.set(lif.name, { rate: rng.uniform(lo, hi), mean: 1.0 });
    }
    const state = createState(program.stateSizes);
    const out = new Float32Array(config.classes);
    const ready = new Uint8Array(1);
    for (let t = 0; t < frames; t++) program.step([state], 1, input.subarray(t * config.mels, (t + 1) * config.mels), out, ready);
    rates = {};
    for (const lif of program.neurons) {
      const obs = lif.observer!;
      const rate = obs.updates > 0 ? obs.spikes / obs.updates : 0;
      rates[lif.name] = rate;
      const target = targets.get(lif.name)!;
      if (pass > 0) target.mean += 1.5 * (target.rate - rate);
      const frameCount = obs.updates / lif.channels;
      const gamma = params.get(`${lif.name}.weight`)!.data;
      const beta = params.get(`${lif.name}.bias`)!.data;
      for (let i = 0; i < lif.channels; i++) {
        const mu = obs.sum[i]! / frameCount;
        const sd = Math.sqrt(Math.max(0, obs.sumSq[i]! / frameCount - mu * mu));
        const k = sd > 1e-6 ? spread / sd : 1;
        gamma[i] = gamma[i]! * k;
        beta[i] = (beta[i]! - mu) * k + target.mean;
      }
    }
  }
  return rates;
}
