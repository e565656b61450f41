import { z } from 'zod';
import { EdgestreamError } from '../../runtime/errors.js';
import type { DenseLayer, Kernels } from '../../runtime/kernels/types.js';
import type { PreparedModel } from '../../runtime/model/family.js';
import type { ModelFile } from '../../runtime/model/model_file.js';
import { LMUFORMER_DELAY, LmuformerProgram } from './lmuformer.js';
import { assertVariant, isIgnoredKey, parameterSpec, validateParameters, type LmuformerConfig, type Variant } from './variants.js';

/** Bounds of an LMUFormer config (a model file's, or one inferred from a checkpoint's shapes). */
export const ConfigSchema = z.object({
  dim: z.number().int().positive().max(8192),
  depths: z.number().int().positive().max(64),
  mlpHidden: z.number().int().positive().max(65536),
  mels: z.number().int().positive().max(4096),
  classes: z.number().int().positive().max(100_000),
  memory: z.number().int().positive().max(16384),
});

/** Multiply-adds per steady-state frame, layer by layer (dense products only). */
export function lmuformerMacs(variant: Variant, c: LmuformerConfig): number {
  const { dim: C, mels: F, mlpHidden: H, memory: M, classes: K } = c;
  const patch = 3 * F * C + 4 * 3 * C * C; // first conv3, three more, rpe
  const block = C /* W_u */ + M * M /* A */ + C * (M + C) /* W_h */ + C * C /* proj */ + 2 * C * H /* fc1, fc2 */;
  return patch + c.depths * block + K * C;
}

/** Trainable parameters as PyTorch counts them (BatchNorm running stats and LMU buffers excluded). */
export function lmuformerParameterCount(variant: Variant, c: LmuformerConfig): number {
  let n = 0;
  for (const [key, shape] of parameterSpec(variant, c)) {
    if (/running_(mean|var)$/.test(key) || /\.lmu\.[AB]$/.test(key)) continue;
    n += shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

/** Validate an `arch: "lmuformer"` model file (variant, config, every tensor) and prepare its programs. */
export function prepareLmuformer(file: ModelFile): PreparedModel {
  const variant = assertVariant(file.metadata.variant);
  const parsed = ConfigSchema.safeParse(file.metadata.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EdgestreamError('E_MODEL_FORMAT', `model config field ${issue.path.join('.')} ${issue.message}`);
  }
  const config: LmuformerConfig = parsed.data;
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of file.tensors) {
    if (isIgnoredKey(k)) continue;
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
      throw new EdgestreamError('E_MODEL_FORMAT', `tensor ${k} has dtype ${t.dtype}; LMUFormer parameters must be floating point`, { key: k });
    }
    shapes.set(k, t.shape);
  }
  validateParameters(variant, config, shapes);
  if (file.metadata.labels.length !== 0 && file.metadata.labels.length !== config.classes) {
    throw new EdgestreamError('E_MODEL_FORMAT', `the model has ${config.classes} classes but ${file.metadata.labels.length} labels`);
  }
  const param = (key: string): Float32Array => file.tensors.get(key)!.data as Float32Array;
  // Programs of this model on one kernel instance (a model's sessions, an engine) share their
  // prepared weights: packing once, holding one copy.
  const shared = new WeakMap<Kernels, Map<string, DenseLayer>>();
  const sharedFor = (kernels: Kernels): Map<string, DenseLayer> => {
    let m = shared.get(kernels);
    if (!m) shared.set(kernels, (m = new Map()));
    return m;
  };
  return {
    variant,
    config: { ...config },
    inputDim: config.mels,
    outputDim: config.classes,
    delay: LMUFORMER_DELAY,
    createProgram: (kernels, options = {}) => new LmuformerProgram(variant, config, param, kernels, { ...options, shared: sharedFor(kernels) }),
    describe: () => ({
      parameters: lmuformerParameterCount(variant, config),
      macsPerFrame: lmuformerMacs(variant, config),
      details: {
        variant, dim: config.dim, depths: config.depths, mlpHidden: config.mlpHidden, mlpRatio: config.mlpHidden / config.dim,
        mels: config.mels, classes: config.classes, lmuMemory: config.memory, spiking: variant !== 'lmu_rnn_conv1d',
      },
    }),
  };
}
