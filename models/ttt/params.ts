import { EdgestreamError } from '../../runtime/errors.js';
import { headDim, lactDims, type LactLayerConfig, type LayerConfig, type TttLayerConfig } from './config.js';

/**
 * The parameter set of every TTT layer kind under its official state_dict names, with shapes.
 * These tables are the import map: a model file or golden must hold exactly these tensors.
 */
export type Shape = readonly number[];
export type ParamSpec = Map<string, Shape>;

export function tttParamSpec(c: TttLayerConfig): ParamSpec {
  const C = c.hidden_size;
  const nh = c.num_attention_heads;
  const f = headDim(c);
  const K = c.mini_batch_size;
  const p: [string, Shape][] = [['q_proj.weight', [C, C]]];
  if (!c.share_qk) p.push(['k_proj.weight', [C, C]]);
  p.push(['v_proj.weight', [C, C]], ['o_proj.weight', [C, C]]);
  if (c.share_qk) {
    p.push(['conv_q.weight', [C, 1, c.conv_kernel]], ['conv_q.bias', [C]], ['conv_k.weight', [C, 1, c.conv_kernel]], ['conv_k.bias', [C]]);
  }
  if (c.use_gate) p.push(['g_proj.weight', [C, C]]);
  p.push(
    ['learnable_ttt_lr_weight', [nh, 1, C]], ['learnable_ttt_lr_bias', [nh, 1]], ['learnable_token_idx', [K]],
    ['ttt_norm_weight', [nh, f]], ['ttt_norm_bias', [nh, f]], ['post_norm.weight', [C]], ['post_norm.bias', [C]],
  );
  if (c.ttt_layer_type === 'linear') {
    p.push(['W1', [nh, f, f]], ['b1', [nh, 1, f]]);
  } else {
    p.push(['W1', [nh, f, 4 * f]], ['b1', [nh, 1, 4 * f]], ['W2', [nh, 4 * f, f]], ['b2', [nh, 1, f]]);
  }
  return new Map(p);
}

export function lactParamSpec(c: LactLayerConfig): ParamSpec {
  const C = c.hidden_size;
  const nf = c.num_lact_heads;
  const { d, dh } = lactDims(c);
  const p: [string, Shape][] = [['qkv.weight', [3 * C, C]]];
  if (c.qkv_bias) p.push(['qkv.bias', [3 * C]]);
  p.push(['o_proj.weight', [C, C]]);
  if (c.attn_qk_norm) p.push(['q_norm.weight', [C]], ['k_norm.weight', [C]]);
  for (const w of ['w0', 'w2']) {
    if (c.w0_w2_low_rank > 0) p.push([`${w}.w_left`, [nf, dh, c.w0_w2_low_rank]], [`${w}.w_right`, [nf, c.w0_w2_low_rank, d]]);
    else p.push([w, [nf, dh, d]]);
  }
  p.push(['w1', [nf, d, dh]]);
  p.push(['lr_proj.weight', [3 * nf * c.lr_dim, C]], ['lr_proj.bias', [3 * nf * c.lr_dim]]);
  p.push(['qk_scale', [C, 2]], ['qk_offset', [C, 2]]);
  if (c.learnable_ttt_scale) p.push(['ttt_scale_proj.weight', [nf, C]], ['ttt_scale_proj.bias', [nf]]);
  p.push(['ttt_norm.weight', [d]]);
  if (c.use_momentum) p.push(['momentum_proj.0.weight', [nf, C]], ['momentum_proj.0.bias', [nf]]);
  return new Map(p);
}

export function layerParamSpec(c: LayerConfig): ParamSpec {
  return c.kind === 'ttt' ? tttParamSpec(c) : lactParamSpec(c);
}

/** The bare LaCT fast-weight op: initial fast weights per head (column-vector layout). */
export interface FastWeightOpConfig {
  heads: number;
  /** Fast-weight input/output dim d. */
  dim: number;
  /** Fast-weight hidden dim dh. */
  hidden: number;
  chunk_size: number;
  use_muon: boolean;
  use_momentum: boolean;
  prenorm: boolean;
}

export function fastWeightOpParamSpec(c: FastWeightOpConfig): ParamSpec {
  return new Map<string, Shape>([['w0', [c.heads, c.hidden, c.dim]], ['w1', [c.heads, c.dim, c.hidden]], ['w2', [c.heads, c.hidden, c.dim]]]);
}

/** Prefix every key of a spec (`layers.0.mixer.` …). */
export function prefixed(spec: ParamSpec, prefix: string): ParamSpec {
  return new Map([...spec].map(([k, s]) => [prefix + k, s]));
}

/**
 * Check a parameter set against a spec: every key present with its exact shape, nothing extra.
 * The first problem is reported by key (E_ARCH_MISMATCH).
 */
export function validateParams(spec: ParamSpec, shapes: ReadonlyMap<string, readonly number[]>, what: string): void {
  for (const [key, shape] of spec) {
    const got = shapes.get(key);
    if (!got) throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: missing parameter ${key} (expected shape [${shape.join(', ')}])`, { key });
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: parameter ${key} has shape [${got.join(', ')}], expected [${shape.join(', ')}]`, { key, got: [...got], expected: [...shape] });
    }
  }
  for (const key of shapes.keys()) {
    if (!spec.has(key)) throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: unexpected parameter ${key} (not part of this layer configuration)`, { key });
  }
}

export function shapeSize(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
