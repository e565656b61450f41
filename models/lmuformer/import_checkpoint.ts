import { readTorchCheckpoint } from '../../runtime/checkpoint/torch_checkpoint.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';
import { encodeModelFile, type DecisionDefaults } from '../../runtime/model/model_file.js';
import { ConfigSchema } from './family.js';
import { defaultLabels } from './labels.js';
import { assertVariant, detectVariant, inferConfig, isIgnoredKey, parameterSpec, validateParameters, type LmuformerConfig, type Variant } from './variants.js';

export interface ImportOptions {
  /** The official variant name, or 'auto' to detect it from the tensor names. */
  arch: Variant | 'auto';
  /** Class labels in index order; default: the 35 Speech Commands labels when there are 35 classes. */
  labels?: string[];
  name?: string;
  modelVersion?: string;
  /** Keyword decision defaults to store with the model (e.g. the threshold calibrated on validation data). */
  decision?: DecisionDefaults;
  /** For error messages. */
  what?: string;
}

export interface ImportResult {
  bytes: Uint8Array;
  variant: Variant;
  config: LmuformerConfig;
  labels: string[];
  tensors: number;
  ignored: string[];
}

/**
 * Official LMUFormer checkpoint (`best_model.pth`, a DataParallel state_dict) → edgestream model
 * file bytes. Strips `module.`, infers the dims from the shapes, checks every tensor against the
 * variant (naming the offending key) and rejects non-finite weights.
 */
export function importLmuformerCheckpoint(checkpoint: Uint8Array, options: ImportOptions): ImportResult {
  const what = options.what ?? 'checkpoint';
  const raw = readTorchCheckpoint(checkpoint, what);
  const keys = [...raw.keys()];
  const prefixed = keys.filter((k) => k.startsWith('module.')).length;
  const strip = prefixed > 0 && prefixed === keys.length;
  const tensors = new Map<string, ReturnType<typeof raw.get> & object>();
  for (const [k, t] of raw) tensors.set(strip ? k.slice('module.'.length) : k, t);

  const shapes = new Map<string, readonly number[]>();
  const ignored: string[] = [];
  for (const [k, t] of tensors) {
    if (isIgnoredKey(k)) ignored.push(k);
    else shapes.set(k, t.shape);
  }
  let variant: Variant;
  if (options.arch === 'auto') {
    const found = detectVariant(shapes.keys());
    if (!found) throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: the tensor names match no LMUFormer variant; pass --arch`);
    variant = found;
  } else {
    variant = assertVariant(options.arch);
  }
  const config = inferConfig(variant, shapes);
  const bounded = ConfigSchema.safeParse(config);
  if (!bounded.success) {
    const issue = bounded.error.issues[0]!;
    throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: the tensor shapes give ${issue.path.join('.')} = ${String((config as unknown as Record<string, unknown>)[String(issue.path[0])])}, outside what a model can load (${issue.message})`, { field: issue.path.join('.') });
  }
  validateParameters(variant, config, shapes);

  const labels = options.labels ?? defaultLabels(config.classes);
  if (labels.length !== config.classes) {
    throw new EdgestreamError('E_ARCH_MISMATCH', `${labels.length} labels given, but the checkpoint's head has ${config.classes} classes`);
  }
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [key, shape] of parameterSpec(variant, config)) {
    const t = tensors.get(key)!;
    if (!['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype)) {
      throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: tensor ${key} has dtype ${t.dtype}, expected floating point`, { key });
    }
    const data = t.toFloat32();
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new EdgestreamError('E_CHECKPOINT', `${what}: tensor ${key} holds ${data[i]} at index ${i}; refusing a model with non-finite weights`, { key });
    }
    out.set(key, { shape, data });
  }
  const bytes = encodeModelFile({
    arch: 'lmuformer', variant, config: { ...config }, labels,
    frontend: { ...LMUFORMER_FRONTEND, melBins: config.mels },
    ...(options.name !== undefined && { name: options.name }),
    ...(options.modelVersion !== undefined && { modelVersion: options.modelVersion }),
    ...(options.decision !== undefined && { decision: options.decision }),
  }, out);
  return { bytes, variant, config, labels, tensors: out.size, ignored };
}
