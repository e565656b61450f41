import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes } from '../../runtime/io/files.js';
import type { TensorToWrite } from '../../runtime/io/safetensors.js';
import { encodeModelFile } from '../../runtime/model/model_file.js';
import { DEFAULT_RUNTIME, LayerConfigSchema, parseConfig } from './config.js';
import { bindParams, type TttModelSpec } from './model_spec.js';
import type { ParamSource } from './numeric.js';

/**
 * The TTT golden files (specs/ttt.md §5): `{meta, params?, inputs, outputs}` JSON, every tensor
 * `{shape, data}` flat row-major float64, parameters under the official state_dict names.
 * `readTttGolden` validates all of it and turns it into a model spec, its parameters, and the
 * per-stream token sequences with their expected outputs.
 */
export type GoldenKind = 'ttt_linear' | 'ttt_mlp' | 'lact_layer' | 'lact_op';

export interface Tensor {
  shape: number[];
  data: Float64Array;
}

export interface TttGolden {
  path: string;
  kind: GoldenKind;
  /** Muon in the update (tolerance relative to the output scale). */
  muon: boolean;
  spec: TttModelSpec;
  param: ParamSource;
  tensors: Map<string, { shape: number[]; values: Float64Array }>;
  /** Independent streams: frames `[T, inputDim]` each, expected outputs `[T, outputDim]`. */
  streams: { frames: Float64Array; expected: Float64Array }[];
  tokens: number;
  inputDim: number;
  outputDim: number;
  /** max |expected output| (the output scale). */
  outputScale: number;
  meta: Record<string, unknown>;
}

function bad(path: string, message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_GOLDEN_FORMAT', `${path}: ${message}`, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MAX_VALUES = 1 << 26;

function tensor(path: string, where: string, v: unknown): Tensor {
  if (!isObject(v)) bad(path, `${where} is not a {shape, data} object`);
  const { shape, data } = v;
  if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(path, `${where}.shape must be a list of non-negative integers`);
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (n > MAX_VALUES) bad(path, `${where} has ${n} values, more than this reader accepts (${MAX_VALUES})`);
  if (!Array.isArray(data)) bad(path, `${where}.data must be a flat list of numbers`);
  if (data.length !== n) bad(path, `${where} has shape [${(shape as number[]).join(', ')}] (${n} values) but ${data.length} data values`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) bad(path, `${where}.data[${i}] is ${JSON.stringify(x)}, not a finite number`);
    out[i] = x;
  }
  return { shape: shape as number[], data: out };
}

function tensors(path: string, where: string, v: unknown): Map<string, Tensor> {
  if (!isObject(v)) bad(path, `"${where}" must be an object of tensors`);
  const m = new Map<string, Tensor>();
  for (const [k, t] of Object.entries(v)) m.set(k, tensor(path, `${where}.${k}`, t));
  return m;
}

function need(path: string, m: Map<string, Tensor>, where: string, key: string, dims: number): Tensor {
  const t = m.get(key);
  if (!t) bad(path, `${where}.${key} is missing`);
  if (t.shape.length !== dims) bad(path, `${where}.${key} has shape [${t.shape.join(', ')}], expected ${dims} dimensions`);
  return t;
}

function kindOf(path: string, meta: Record<string, unknown>): { kind: GoldenKind; prenorm: boolean } {
  const module = typeof meta.module === 'string' ? meta.module : '';
  const cfg = isObject(meta.config) ? meta.config : {};
  if (/TTTLinear|TTTMLP/.test(module)) {
    const mlp = /TTTMLP/.test(module) || cfg.ttt_layer_type === 'mlp';
    return { kind: mlp ? 'ttt_mlp' : 'ttt_linear', prenorm: false };
  }
  if (/LaCTSWIGLULayer/.test(module)) return { kind: 'lact_layer', prenorm: false };
  if (/block_causal_lact_swiglu/.test(module)) return { kind: 'lact_op', prenorm: /prenorm_block_causal_lact_swiglu/.test(module) };
  return bad(path, `meta.module ${JSON.stringify(module)} is not a TTT-Linear/MLP layer, a LaCT layer or the LaCT fast-weight op`);
}

export function readTttGolden(path: string, bytes?: Uint8Array): TttGolden {
  const raw = bytes ?? readFileBytes(path);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    bad(path, `not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) bad(path, 'the golden file must be a JSON object {meta, params, inputs, outputs}');
  if (!isObject(doc.meta)) bad(path, '"meta" is missing or not an object');
  const meta = doc.meta;
  const { kind, prenorm } = kindOf(path, meta);
  const inputs = tensors(path, 'inputs', doc.inputs);
  const outputs = tensors(path, 'outputs', doc.outputs);

  if (kind === 'lact_op') {
    const call = typeof meta.call === 'string' ? meta.call : '';
    const chunk = /chunk_size\s*=\s*(\d+)/.exec(call);
    if (!chunk) bad(path, 'meta.call does not state chunk_size=<n>');
    const muonMatch = /use_muon\s*=\s*(True|False)/.exec(call);
    const muon = muonMatch?.[1] === 'True';
    const w0 = need(path, inputs, 'inputs', 'w0', 3);
    const [b, dh, d] = w0.shape as [number, number, number];
    const q = need(path, inputs, 'inputs', 'q', 3);
    const L = q.shape[1]!;
    const expectShape = (key: string, t: Tensor, shape: number[]): void => {
      if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i])) bad(path, `${key} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    };
    expectShape('inputs.w1', need(path, inputs, 'inputs', 'w1', 3), [b, d, dh]);
    expectShape('inputs.w2', need(path, inputs, 'inputs', 'w2', 3), [b, dh, d]);
    for (const key of ['q', 'k', 'v']) expectShape(`inputs.${key}`, need(path, inputs, 'inputs', key, 3), [b, L, d]);
    for (const key of ['lr0', 'lr1', 'lr2']) expectShape(`inputs.${key}`, need(path, inputs, 'inputs', key, 3), [b, L, 1]);
    const mom = inputs.get('momentum');
    if (mom) expectShape('inputs.momentum', mom, [b, L, 1]);
    const o = need(path, outputs, 'outputs', 'o', 3);
    expectShape('outputs.o', o, [b, L, d]);
    const spec: TttModelSpec = {
      variant: 'fast_weight_op',
      config: { heads: b, dim: d, hidden: dh, chunk_size: Number(chunk[1]), use_muon: muon, use_momentum: !!mom, prenorm },
      runtime: DEFAULT_RUNTIME,
    };
    const ts = new Map<string, { shape: number[]; values: Float64Array }>();
    for (const key of ['w0', 'w1', 'w2']) { const t = inputs.get(key)!; ts.set(key, { shape: t.shape, values: t.data }); }
    const param = bindParams(spec, ts, path);
    const per = 3 * d + 3 + (mom ? 1 : 0);
    const frames = new Float64Array(L * b * per);
    const expected = new Float64Array(L * b * d);
    const get = (key: string): Float64Array => inputs.get(key)!.data;
    for (let t = 0; t < L; t++) {
      for (let h = 0; h < b; h++) {
        const f = (t * b + h) * per;
        for (let i = 0; i < d; i++) {
          frames[f + i] = get('q')[(h * L + t) * d + i]!;
          frames[f + d + i] = get('k')[(h * L + t) * d + i]!;
          frames[f + 2 * d + i] = get('v')[(h * L + t) * d + i]!;
          expected[(t * b + h) * d + i] = o.data[(h * L + t) * d + i]!;
        }
        frames[f + 3 * d] = get('lr0')[h * L + t]!;
        frames[f + 3 * d + 1] = get('lr1')[h * L + t]!;
        frames[f + 3 * d + 2] = get('lr2')[h * L + t]!;
        if (mom) frames[f + 3 * d + 3] = mom.data[h * L + t]!;
      }
    }
    return finish(path, kind, muon, spec, param, ts, [{ frames, expected }], L, b * per, b * d, meta);
  }

  const params = tensors(path, 'params', doc.params);
  const config = parseConfig(LayerConfigSchema, { ...(isObject(meta.config) ? meta.config : {}), kind: kind === 'lact_layer' ? 'lact' : 'ttt', ...(kind === 'ttt_mlp' ? { ttt_layer_type: 'mlp' } : kind === 'ttt_linear' ? { ttt_layer_type: 'linear' } : {}) }, `${path}: meta.config`, 'E_GOLDEN_FORMAT');
  const x = need(path, inputs, 'inputs', 'x', 3);
  // A golden is one whole forward pass: its length is known, which fixes PyTorch's RoPE table exactly.
  const spec: TttModelSpec = { variant: 'layer', config: { layer: config }, runtime: { ...DEFAULT_RUNTIME, rope_sequence_length: x.shape[1]! } };
  const ts = new Map<string, { shape: number[]; values: Float64Array }>();
  for (const [k, t] of params) ts.set(k, { shape: t.shape, values: t.data });
  const param = bindParams(spec, ts, path);
  const y = need(path, outputs, 'outputs', 'y', 3);
  const [B, L, C] = x.shape as [number, number, number];
  if (C !== config.hidden_size) bad(path, `inputs.x has ${C} channels but hidden_size is ${config.hidden_size}`);
  if (y.shape[0] !== B || y.shape[1] !== L || y.shape[2] !== C) bad(path, `outputs.y has shape [${y.shape.join(', ')}], expected [${B}, ${L}, ${C}]`);
  const streams = [];
  for (let b = 0; b < B; b++) {
    streams.push({ frames: x.data.slice(b * L * C, (b + 1) * L * C), expected: y.data.slice(b * L * C, (b + 1) * L * C) });
  }
  return finish(path, kind, config.kind === 'lact' && config.use_muon, spec, param, ts, streams, L, C, C, meta);
}

function finish(path: string, kind: GoldenKind, muon: boolean, spec: TttModelSpec, param: ParamSource, ts: Map<string, { shape: number[]; values: Float64Array }>,
  streams: { frames: Float64Array; expected: Float64Array }[], tokens: number, inputDim: number, outputDim: number, meta: Record<string, unknown>): TttGolden {
  let outputScale = 0;
  for (const s of streams) for (const v of s.expected) outputScale = Math.max(outputScale, Math.abs(v));
  return { path, kind, muon, spec, param, tensors: ts, streams, tokens, inputDim, outputDim, outputScale, meta };
}

/** The golden's model as an edgestream model file (float64 tensors: nothing is lost). */
export function goldenModelFile(g: TttGolden): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  for (const [k, t] of g.tensors) tensors.set(k, { shape: t.shape, data: t.values });
  const config: Record<string, unknown> = g.spec.variant === 'layer' ? { layer: g.spec.config.layer, runtime: g.spec.runtime } : { ...g.spec.config, runtime: g.spec.runtime };
  return encodeModelFile({ arch: 'ttt', variant: g.spec.variant, config, labels: [], frontend: null, name: `golden-${g.kind}` }, tensors);
}
