import { z } from 'zod';
import { EdgestreamError } from '../errors.js';
import { FrontendSettingsSchema, type FrontendSettings } from '../model/frontend_settings.js';
import { DT, onnx, type ModelProto, type IValueInfoProto } from './proto.js';

/**
 * The edgestream ONNX step convention, version 1 (docs/onnx.md): a graph that advances
 * N independent streams by one step.
 *
 *   inputs   frame      float32 [N, F]   one input frame per stream (zeros on `end` steps)
 *            state      float32 [N, S]   packed per-stream state (all zeros = a fresh stream)
 *            end        float32 [N, 1]   1 = end of stream: no frame, emit the next held-back output
 *   outputs  output     float32 [N, K]   the output that became ready (zeros where ready = 0)
 *            ready      float32 [N, 1]   1 where `output` holds a new output, else 0
 *            state_out  float32 [N, S]   the state after this step
 *
 * N is symbolic (any batch) or fixed at 1 (then streams are stepped one at a time). A model with a
 * look-ahead of D frames declares `edgestream.delay` = D: output t is ready after frame t + D,
 * and ending a stream takes D `end` steps (a model signals ready = 1 on those that emit).
 * Optional metadata: `edgestream.labels` (JSON array of strings), `edgestream.frontend` (JSON,
 * the front-end settings of the model file), `edgestream.source` (JSON: arch, variant, config of
 * the exported model), `edgestream.state_layout` (JSON: slot names, offsets, lengths).
 */
export const STEP_CONVENTION_VERSION = 1;
export const STEP_INPUTS = { frame: 'frame', state: 'state', end: 'end' } as const;
export const STEP_OUTPUTS = { output: 'output', ready: 'ready', state: 'state_out' } as const;
export const META = {
  convention: 'edgestream.step_convention',
  delay: 'edgestream.delay',
  labels: 'edgestream.labels',
  frontend: 'edgestream.frontend',
  source: 'edgestream.source',
  stateLayout: 'edgestream.state_layout',
} as const;
/** The largest delay accepted from a model's metadata. */
const MAX_DELAY = 10_000;
/**
 * The most values one stream's frame, output and state may have (docs/onnx.md, Limits):
 * every program allocates them per batch row before onnxruntime runs, so a graph that merely
 * declares [N, 2^31] must be refused, not allocated. 1 Mi values per frame or output, 16 Mi (64 MiB)
 * of state per stream; a model's state is further bounded by its file size (Model).
 */
export const STEP_LIMITS = { maxFrameValues: 1 << 20, maxStateValues: 1 << 24 } as const;

export interface StepModelSource {
  arch: string;
  variant: string;
  config: Record<string, unknown>;
  name?: string;
  modelVersion?: string;
}

/** What the runtime needs to know about a step model, read from its graph and metadata. */
export interface StepModelInfo {
  inputDim: number;
  outputDim: number;
  /** Columns of the packed state. */
  stateSize: number;
  delay: number;
  /** The largest batch one run takes: Infinity for a symbolic batch dimension, or 1. */
  batchLimit: number;
  labels: string[];
  frontend: FrontendSettings | null;
  source: StepModelSource | null;
  /** Values in float initializers (the model's parameters). */
  parameters: number;
  /** Multiply-adds per step in MatMul/Gemm nodes with an initializer operand. */
  macsPerFrame: number;
}

const SourceSchema = z.object({
  arch: z.string(),
  variant: z.string(),
  config: z.record(z.string(), z.unknown()),
  name: z.string().optional(),
  modelVersion: z.string().optional(),
});

function bad(what: string, message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_ONNX_MODEL', `${what}: ${message}`, detail);
}

/** Parse ONNX bytes (`E_ONNX_MODEL` if they are not a readable ONNX model). */
export function decodeOnnx(bytes: Uint8Array, what: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    bad(what, `not a readable ONNX model: protobuf parsing failed (${(e as Error).message}); the file is corrupted or truncated`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) bad(what, 'not an ONNX model: it has no graph');
  return model;
}

type Dim = number | string;

function shapeOf(v: IValueInfoProto): { elemType: number; dims: Dim[] } | null {
  const t = v.type?.tensorType;
  if (!t) return null;
  const dims = (t.shape?.dim ?? []).map((d): Dim => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : (d.dimParam || '?')));
  return { elemType: t.elemType ?? 0, dims };
}

const DTYPE_NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };
const fmt = (s: { elemType: number; dims: Dim[] }): string => `${DTYPE_NAMES[s.elemType] ?? `type ${s.elemType}`} [${s.dims.join(', ')}]`;

/**
 * Check a decoded ONNX model against the step convention and read its figures. Every departure is
 * an `E_ONNX_MODEL` naming the input or output and what the convention expects.
 */
export function readStepModel(model: ModelProto, what: string): StepModelInfo {
  const graph = model.graph!;
  const initializer = graph.initializer ?? [];
  const initNames = new Set(initializer.map((t) => t.name));
  const inputs = new Map((graph.input ?? []).filter((v) => !initNames.has(v.name ?? '')).map((v) => [v.name ?? '', v]));
  const outputs = new Map((graph.output ?? []).map((v) => [v.name ?? '', v]));
  const hint = 'does not follow the edgestream step convention (inputs frame, state, end; outputs output, ready, state_out: see docs/onnx.md)';
  const need = (map: Map<string, IValueInfoProto>, name: string, kind: 'input' | 'output') => {
    const v = map.get(name);
    if (!v) bad(what, `${hint}: it has no ${kind} named "${name}" (its ${kind}s: ${[...map.keys()].join(', ') || 'none'})`, { missing: name });
    const s = shapeOf(v);
    if (!s) bad(what, `${kind} "${name}" is not a tensor`);
    if (s.elemType !== DT.FLOAT) bad(what, `${kind} "${name}" is ${fmt(s)}; the step convention needs float32`);
    if (s.dims.length !== 2) bad(what, `${kind} "${name}" is ${fmt(s)}; the step convention needs a 2-D tensor [N, …]`);
    return s;
  };
  for (const name of inputs.keys()) {
    if (!(Object.values(STEP_INPUTS) as string[]).includes(name)) bad(what, `${hint}: unexpected input "${name}"`, { unexpected: name });
  }
  const frame = need(inputs, STEP_INPUTS.frame, 'input');
  const state = need(inputs, STEP_INPUTS.state, 'input');
  const end = need(inputs, STEP_INPUTS.end, 'input');
  const output = need(outputs, STEP_OUTPUTS.output, 'output');
  const ready = need(outputs, STEP_OUTPUTS.ready, 'output');
  const stateOut = need(outputs, STEP_OUTPUTS.state, 'output');

  const fixed = (s: { dims: Dim[] }, name: string, dim: 1): number => {
    const d = s.dims[dim]!;
    if (typeof d !== 'number') bad(what, `"${name}" has a symbolic size "${d}" in dimension ${dim}; the step convention needs a fixed size there`);
    return d;
  };
  const bounded = (n: number, name: string, max: number): number => {
    if (n > max) bad(what, `"${name}" declares ${n} values per stream; at most ${max} (a step model's frames, outputs and state are allocated per stream)`, { [name]: n });
    return n;
  };
  const inputDim = bounded(fixed(frame, 'frame', 1), 'frame', STEP_LIMITS.maxFrameValues);
  const stateSize = bounded(fixed(state, 'state', 1), 'state', STEP_LIMITS.maxStateValues);
  const outputDim = bounded(fixed(output, 'output', 1), 'output', STEP_LIMITS.maxFrameValues);
  if (fixed(end, 'end', 1) !== 1) bad(what, `input "end" is ${fmt(end)}; expected float32 [N, 1]`);
  if (fixed(ready, 'ready', 1) !== 1) bad(what, `output "ready" is ${fmt(ready)}; expected float32 [N, 1]`);
  if (fixed(stateOut, 'state_out', 1) !== stateSize) bad(what, `output "state_out" is ${fmt(stateOut)} but input "state" is ${fmt(state)}; they must match`);

  const batchDims = [frame, state, end, output, ready, stateOut].map((s) => s.dims[0]!);
  const fixedBatch = batchDims.filter((d): d is number => typeof d === 'number');
  if (fixedBatch.some((d) => d !== 1)) bad(what, `the batch dimension must be symbolic or 1 (found ${fixedBatch.join(', ')})`);
  const batchLimit = fixedBatch.length > 0 ? 1 : Infinity;

  const meta = new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const convention = meta.get(META.convention);
  if (convention !== undefined && Number(convention) > STEP_CONVENTION_VERSION) {
    bad(what, `step convention version ${convention} is newer than this runtime reads (${STEP_CONVENTION_VERSION}); upgrade edgestream`);
  }
  const delayText = meta.get(META.delay) ?? '0';
  const delay = Number(delayText);
  if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY) bad(what, `metadata ${META.delay} = "${delayText}" must be an integer from 0 to ${MAX_DELAY}`);
  const json = <T>(key: string, schema: z.ZodType<T>, fallback: T): T => {
    const text = meta.get(key);
    if (text === undefined) return fallback;
    let value: unknown;
    try { value = JSON.parse(text); } catch { bad(what, `metadata ${key} is not valid JSON`); }
    const r = schema.safeParse(value);
    if (!r.success) bad(what, `metadata ${key}: ${r.error.issues[0]!.path.join('.') || '(root)'} ${r.error.issues[0]!.message}`);
    return r.data;
  };
  const labels = json(META.labels, z.array(z.string()).max(100_000), []);
  if (labels.length !== 0 && labels.length !== outputDim) bad(what, `metadata ${META.labels} has ${labels.length} labels but the output has ${outputDim} values`);
  const frontend = json<FrontendSettings | null>(META.frontend, FrontendSettingsSchema.nullable(), null);
  const source = json<StepModelSource | null>(META.source, SourceSchema.nullable(), null);

  const inits = new Map(initializer.map((t) => [t.name ?? '', t]));
  let parameters = 0;
  for (const t of initializer) {
    if (t.dataType === DT.FLOAT || t.dataType === DT.DOUBLE) parameters += (t.dims ?? []).reduce((a: number, b) => a * Number(b), 1);
  }
  let macsPerFrame = 0;
  for (const n of graph.node ?? []) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const w = inits.get(n.input?.[1] ?? '');
    if (w?.dims && w.dims.length === 2) macsPerFrame += Number(w.dims[0]) * Number(w.dims[1]);
  }
  return { inputDim, outputDim, stateSize, delay, batchLimit, labels, frontend, source, parameters, macsPerFrame };
}
