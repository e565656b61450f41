import { z } from 'zod';
import { EdgestreamError } from '../errors.js';
import { readSafetensors, writeSafetensors, type SafeTensor, type TensorToWrite } from '../io/safetensors.js';
import { FrontendSettingsSchema, type FrontendSettings } from './frontend_settings.js';
import { SCORE_ACTIVATIONS, type ScoreActivation } from '../decisions/scores.js';

/**
 * The edgestream model file: a `.safetensors` container whose tensors are the model's parameters
 * under their official names and whose `__metadata__` (a map of strings, as the format requires)
 * holds `format`, `version`, `arch`, `variant`, and JSON-encoded `config`, `labels`, `frontend`.
 * One file to copy onto a device.
 */
export const MODEL_FORMAT = 'edgestream';
export const MODEL_FORMAT_VERSION = 1;

/**
 * A model family's name (`lmuformer`, `ttt`, …). The file format leaves it open: the families
 * a build can run are the registered ones (runtime/model/family_registry.ts).
 */
export type Arch = string;
const ARCH_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

export interface ModelMetadata {
  format: typeof MODEL_FORMAT;
  version: number;
  arch: Arch;
  variant: string;
  /** Architecture hyper-parameters (validated by the family). */
  config: Record<string, unknown>;
  /** Output labels in class-index order (may be empty for regression models). */
  labels: string[];
  /** Audio front end the model expects, or null for non-audio models. */
  frontend: FrontendSettings | null;
  /** Free-form model name and version, published with predictions. */
  name?: string;
  modelVersion?: string;
  /** Decision defaults the model was calibrated for (keyword thresholds); callers may override. */
  decision?: DecisionDefaults;
}

/**
 * Per-model keyword decision defaults, chosen when the model was trained (thresholds and the
 * stream detector's settings calibrated on validation data). Callers may override all but
 * `activation`, which is how the model was trained to be read.
 */
export interface DecisionDefaults {
  /** How logits become scores: `sigmoid` (one-vs-rest, the default) or `softmax` (one decision over all labels). */
  activation?: ScoreActivation;
  /** Streams (`listen`, the service): the score an event must reach. */
  threshold?: number;
  thresholds?: Record<string, number>;
  /**
   * Whole clips (`classify`, `eval` of clips): the threshold calibrated on isolated clips, used
   * instead of the stream thresholds when present.
   */
  clipThreshold?: number;
  smoothFrames?: number;
  hysteresis?: number;
  refractoryMs?: number;
  peakFrames?: number;
  /**
   * Continuous streams: frames the classifier head averages over, when calibrated shorter than the
   * training clip length (a shorter window found more commands at the same false-alarm rate).
   * Clips are still padded to the clip length.
   */
  streamWindowFrames?: number;
}

const DecisionDefaultsSchema = z.object({
  activation: z.enum(SCORE_ACTIVATIONS).optional(),
  threshold: z.number().min(0).max(1).optional(),
  thresholds: z.record(z.string(), z.number().min(0).max(1)).optional(),
  clipThreshold: z.number().min(0).max(1).optional(),
  smoothFrames: z.number().int().min(1).max(100).optional(),
  hysteresis: z.number().min(0).max(1).optional(),
  refractoryMs: z.number().min(0).max(60_000).optional(),
  peakFrames: z.number().int().min(0).max(300).optional(),
  streamWindowFrames: z.number().int().min(8).max(10_000).optional(),
}).strict();

export interface ModelFile {
  metadata: ModelMetadata;
  tensors: Map<string, SafeTensor>;
}

const jsonString = <T extends z.ZodTypeAny>(schema: T) =>
  z.string().transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

const MetadataSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.string().regex(/^\d+$/).transform(Number),
  arch: z.string().regex(ARCH_PATTERN, 'must be a model family name (lowercase letters, digits, - and _)'),
  variant: z.string().min(1),
  config: jsonString(z.record(z.string(), z.unknown())),
  labels: jsonString(z.array(z.string()).max(100_000)),
  frontend: jsonString(FrontendSettingsSchema.nullable()),
  name: z.string().optional(),
  model_version: z.string().optional(),
  decision: jsonString(DecisionDefaultsSchema).optional(),
});

export function decodeModelFile(bytes: Uint8Array, what = 'model file'): ModelFile {
  const { metadata, tensors } = readSafetensors(bytes, what);
  if (metadata.format !== MODEL_FORMAT) {
    throw new EdgestreamError('E_MODEL_FORMAT', `${what}: this safetensors file is not an edgestream model (no "format": "edgestream" in its metadata); import a checkpoint with \`edgestream import\``);
  }
  const parsed = MetadataSchema.safeParse(metadata);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EdgestreamError('E_MODEL_FORMAT', `${what}: metadata field ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  const m = parsed.data;
  if (m.version > MODEL_FORMAT_VERSION) {
    throw new EdgestreamError('E_MODEL_FORMAT', `${what}: model format version ${m.version} is newer than this runtime reads (${MODEL_FORMAT_VERSION}); upgrade edgestream`);
  }
  checkFinite(tensors, what);
  return {
    metadata: {
      format: MODEL_FORMAT, version: m.version, arch: m.arch, variant: m.variant, config: m.config, labels: m.labels,
      frontend: m.frontend, ...(m.name !== undefined && { name: m.name }), ...(m.model_version !== undefined && { modelVersion: m.model_version }),
      ...(m.decision !== undefined && { decision: m.decision as DecisionDefaults }),
    },
    tensors,
  };
}

/**
 * A NaN or ±Infinity weight makes every output NaN: refuse the file instead of answering NaN. The
 * float32 values are checked (an F64 weight of 1e300 is finite but overflows them).
 */
function checkFinite(tensors: ReadonlyMap<string, SafeTensor>, what: string): void {
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    const values = t.data;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v - v !== 0) { // false only for finite numbers
        const shown = t.f64 && Number.isFinite(t.f64[i]!) ? `${t.f64[i]} (beyond float32)` : String(v);
        throw new EdgestreamError('E_MODEL_FORMAT', `${what}: tensor ${name} holds ${shown} at index ${i}; a model with non-finite weights gives NaN results`, { tensor: name, index: i });
      }
    }
  }
}

export function encodeModelFile(metadata: Omit<ModelMetadata, 'format' | 'version'>, tensors: ReadonlyMap<string, TensorToWrite>): Uint8Array {
  const meta: Record<string, string> = {
    format: MODEL_FORMAT,
    version: String(MODEL_FORMAT_VERSION),
    arch: metadata.arch,
    variant: metadata.variant,
    config: JSON.stringify(metadata.config),
    labels: JSON.stringify(metadata.labels),
    frontend: JSON.stringify(metadata.frontend),
  };
  if (metadata.name !== undefined) meta.name = metadata.name;
  if (metadata.modelVersion !== undefined) meta.model_version = metadata.modelVersion;
  if (metadata.decision !== undefined) meta.decision = JSON.stringify(metadata.decision);
  return writeSafetensors(tensors, meta);
}
