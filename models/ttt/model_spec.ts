import { z } from 'zod';
import { EdgestreamError } from '../../runtime/errors.js';
import { checkLayerConfig, DEFAULT_RUNTIME, LayerConfigSchema, parseConfig, RuntimeOptionsSchema, type LayerConfig, type RuntimeOptions } from './config.js';
import type { ParamSource } from './numeric.js';
import { fastWeightOpParamSpec, layerParamSpec, prefixed, validateParams, type FastWeightOpConfig, type ParamSpec, type Shape } from './params.js';

/**
 * What an `arch: "ttt"` model file describes, by variant:
 *  - `stack`: a stream model  x → input_proj → [h += mixer(RMSNorm(h))] × L → RMSNorm → head
 *    (tensors `input_proj.*`, `layers.{i}.norm.weight`, `layers.{i}.mixer.<official names>`,
 *    `norm.weight`, `head.*`);
 *  - `layer`: one bare layer, `[C] → [C]`, tensors under the official names (what goldens hold);
 *  - `fast_weight_op`: the bare LaCT fast-weight function; per token and head the input is
 *    `[q (d), k (d), v (d), lr0, lr1, lr2, momentum?]` and the output `o (d)`.
 * `runtime` holds choices that do not change the trained model (schedule, spreading, frozen).
 */
export const VARIANTS = ['stack', 'layer', 'fast_weight_op'] as const;
export type TttVariant = (typeof VARIANTS)[number];

const StackConfigSchema = z.object({
  input_dim: z.number().int().positive().max(1 << 20),
  output_dim: z.number().int().positive().max(1 << 20),
  hidden_size: z.number().int().positive().max(65536),
  norm_eps: z.number().positive().default(1e-6),
  layers: z.array(LayerConfigSchema).min(1).max(256),
  runtime: RuntimeOptionsSchema.default(DEFAULT_RUNTIME),
});
export type StackConfig = z.infer<typeof StackConfigSchema>;

const LayerModelConfigSchema = z.object({
  layer: LayerConfigSchema,
  runtime: RuntimeOptionsSchema.default(DEFAULT_RUNTIME),
});

const OpConfigSchema = z.object({
  heads: z.number().int().positive().max(65536),
  dim: z.number().int().positive().max(65536),
  hidden: z.number().int().positive().max(65536),
  chunk_size: z.number().int().positive().max(1 << 20),
  use_muon: z.boolean().default(false),
  use_momentum: z.boolean().default(false),
  prenorm: z.boolean().default(false),
  runtime: RuntimeOptionsSchema.default(DEFAULT_RUNTIME),
});

export type TttModelSpec =
  | { variant: 'stack'; config: StackConfig; runtime: RuntimeOptions }
  | { variant: 'layer'; config: { layer: LayerConfig }; runtime: RuntimeOptions }
  | { variant: 'fast_weight_op'; config: FastWeightOpConfig; runtime: RuntimeOptions };

export function isVariant(v: string): v is TttVariant {
  return (VARIANTS as readonly string[]).includes(v);
}

/** Validate a variant + config (E_MODEL_FORMAT / E_UNKNOWN_ARCH / E_ARCH_MISMATCH). */
export function parseSpec(variant: string, config: unknown, what: string): TttModelSpec {
  if (!isVariant(variant)) throw new EdgestreamError('E_UNKNOWN_ARCH', `${what}: unknown TTT variant "${variant}". Expected one of: ${VARIANTS.join(', ')}`);
  if (variant === 'stack') {
    const c = parseConfig(StackConfigSchema, config, `${what} config`);
    c.layers.forEach((l, i) => {
      checkLayerConfig(l, `${what} layer ${i}`);
      if (l.hidden_size !== c.hidden_size) throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: layer ${i} has hidden_size ${l.hidden_size}, the stack ${c.hidden_size}`);
    });
    return { variant, config: c, runtime: c.runtime };
  }
  if (variant === 'layer') {
    const c = parseConfig(LayerModelConfigSchema, config, `${what} config`);
    checkLayerConfig(c.layer, what);
    return { variant, config: { layer: c.layer }, runtime: c.runtime };
  }
  const c = parseConfig(OpConfigSchema, config, `${what} config`);
  return { variant, config: c, runtime: c.runtime };
}

/** Every tensor the model needs, with its shape. */
export function specParams(spec: TttModelSpec): ParamSpec {
  if (spec.variant === 'layer') return layerParamSpec(spec.config.layer);
  if (spec.variant === 'fast_weight_op') return fastWeightOpParamSpec(spec.config);
  const c = spec.config;
  const C = c.hidden_size;
  const p = new Map<string, Shape>([['input_proj.weight', [C, c.input_dim]], ['input_proj.bias', [C]]]);
  c.layers.forEach((l, i) => {
    p.set(`layers.${i}.norm.weight`, [C]);
    for (const [k, s] of prefixed(layerParamSpec(l), `layers.${i}.mixer.`)) p.set(k, s);
  });
  p.set('norm.weight', [C]);
  p.set('head.weight', [c.output_dim, C]);
  p.set('head.bias', [c.output_dim]);
  return p;
}

export function specDims(spec: TttModelSpec): { inputDim: number; outputDim: number } {
  if (spec.variant === 'stack') return { inputDim: spec.config.input_dim, outputDim: spec.config.output_dim };
  if (spec.variant === 'layer') return { inputDim: spec.config.layer.hidden_size, outputDim: spec.config.layer.hidden_size };
  const c = spec.config;
  return { inputDim: c.heads * (3 * c.dim + 3 + (c.use_momentum ? 1 : 0)), outputDim: c.heads * c.dim };
}

/** Check tensors against the spec and return a parameter source (float64 view of each tensor). */
export function bindParams(spec: TttModelSpec, tensors: ReadonlyMap<string, { shape: readonly number[]; values: Float64Array }>, what: string): ParamSource {
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of tensors) shapes.set(k, t.shape);
  validateParams(specParams(spec), shapes, what);
  for (const [k, t] of tensors) {
    for (let i = 0; i < t.values.length; i++) {
      if (!Number.isFinite(t.values[i]!)) throw new EdgestreamError('E_MODEL_FORMAT', `${what}: parameter ${k} holds a non-finite value at index ${i}`, { key: k });
    }
  }
  return (key: string) => {
    const t = tensors.get(key);
    if (!t) throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: missing parameter ${key}`, { key });
    return t.values;
  };
}
