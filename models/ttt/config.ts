import { z } from 'zod';
import { EdgestreamError, type ErrorCode } from '../../runtime/errors.js';

/**
 * Layer configurations under the official field names (ttt.py `TTTConfig`, LaCT
 * `LaCTSWIGLULayer.__init__`), with the official defaults, plus `kind` to tell them apart.
 * Unknown official fields (layer_idx, …) are accepted and ignored.
 */
const dim = z.number().int().positive().max(65536);
/** PyTorch builds the RoPE tables in float32, so the base must be a normal float32. */
const ropeTheta = z.number().min(2 ** -126, 'must be a normal float32 (≥ 2^-126): the RoPE tables are float32')
  .max(3.4028234663852886e38, 'must be a finite float32 (≤ 3.4e38): the RoPE tables are float32');

export const TttLayerConfigSchema = z.object({
  kind: z.literal('ttt'),
  hidden_size: dim,
  num_attention_heads: z.number().int().positive().max(4096),
  mini_batch_size: z.number().int().positive().max(65536).default(16),
  ttt_base_lr: z.number().finite().default(1.0),
  rope_theta: ropeTheta.default(10000),
  share_qk: z.boolean().default(false),
  use_gate: z.boolean().default(false),
  conv_kernel: z.number().int().positive().max(64).default(4),
  ttt_layer_type: z.enum(['linear', 'mlp']).default('linear'),
});
export type TttLayerConfig = z.infer<typeof TttLayerConfigSchema>;

export const LactLayerConfigSchema = z.object({
  kind: z.literal('lact'),
  hidden_size: dim,
  num_attn_heads: z.number().int().positive().max(4096),
  num_lact_heads: z.number().int().positive().max(4096),
  inter_multi: z.number().positive().max(64).default(1),
  window_size: z.number().int().positive().max(1 << 20),
  lact_chunk_size: z.number().int().positive().max(1 << 20),
  qkv_bias: z.boolean().default(false),
  attn_qk_norm: z.boolean().default(true),
  qkv_silu: z.boolean().default(true),
  no_v_silu: z.boolean().default(false),
  lr_dim: z.number().int().positive().default(1),
  use_muon: z.boolean().default(false),
  lr_parameterization: z.string().default('mamba'),
  learnable_ttt_scale: z.boolean().default(false),
  ttt_prenorm: z.boolean().default(false),
  ttt_nope: z.boolean().default(false),
  rope_theta: ropeTheta.default(500000),
  w0_w2_low_rank: z.number().int().default(-1),
  use_momentum: z.boolean().default(false),
  fw_init_gain: z.number().default(0.5),
  /** The RoPE cache holds max(sequence length, this) rows (null: the sequence length); official default 2048. */
  max_position_embeddings: z.number().int().positive().max(1 << 24).nullable().default(2048),
});
export type LactLayerConfig = z.infer<typeof LactLayerConfigSchema>;

export const LayerConfigSchema = z.discriminatedUnion('kind', [TttLayerConfigSchema, LactLayerConfigSchema]);
export type LayerConfig = z.infer<typeof LayerConfigSchema>;

/** How LaCT runs its chunk-boundary update (`resolveSchedule` in swiglu_fast_weight.ts; its units in update_plan.ts). */
export const ScheduleSchema = z.enum(['auto', 'incremental', 'deferred']);
export type Schedule = z.infer<typeof ScheduleSchema>;

/** Runtime choices that are not part of the trained model (they never change what it learned). */
export const RuntimeOptionsSchema = z.object({
  /** LaCT boundary schedule; `auto` = incremental without Muon, deferred with Muon. */
  schedule: ScheduleSchema.default('auto'),
  /**
   * Spread LaCT's boundary update (gradients, momentum, Muon) over this many following tokens
   * instead of stalling one token. 0/1 = exact. S > 1: the fast-weight trajectory stays exact but
   * the first S − 1 tokens of every chunk after the first are applied with the previous chunk's
   * weights. Needs the deferred schedule; at most the chunk size.
   */
  muon_spread_tokens: z.number().int().min(0).max(1 << 20).default(0),
  /** false: the fast weights stay at their initial values (no test-time training), for comparisons. */
  fast_weight_updates: z.boolean().default(true),
  /**
   * The length of the whole sequence when it is known in advance (a golden file, a fixed clip);
   * 0 = open-ended stream. Only PyTorch's float32 RoPE table depends on it, in its last 8-element
   * SLEEF vector (see rope.ts): it changes the last token's rotation by ≤ 1 float32 ulp, and only when
   * half the attention head dim is not a multiple of 8.
   */
  rope_sequence_length: z.number().int().min(0).max(1 << 24).default(0),
});
export type RuntimeOptions = z.infer<typeof RuntimeOptionsSchema>;
export const DEFAULT_RUNTIME: RuntimeOptions = RuntimeOptionsSchema.parse({});

/** Parse with a schema; the first issue becomes an error naming the field. */
export function parseConfig<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string, code: ErrorCode = 'E_MODEL_FORMAT'): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new EdgestreamError(code, `${what}: field ${issue.path.join('.') || '(root)'} ${issue.message}`, { path: issue.path.join('.') });
  }
  return r.data;
}

/** Structural checks the schemas cannot express. */
export function checkLayerConfig(c: LayerConfig, what: string): void {
  const fail = (m: string): never => { throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: ${m}`); };
  if (c.kind === 'ttt') {
    if (c.hidden_size % c.num_attention_heads !== 0) fail(`hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
    if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) fail('the head dim must be even (RoPE rotates pairs)');
    return;
  }
  if (c.hidden_size % c.num_attn_heads !== 0) fail(`hidden_size ${c.hidden_size} is not divisible by num_attn_heads ${c.num_attn_heads}`);
  if ((c.hidden_size / c.num_attn_heads) % 2 !== 0) fail('the attention head dim must be even (RoPE rotates pairs)');
  if (c.hidden_size % c.num_lact_heads !== 0) fail(`hidden_size ${c.hidden_size} is not divisible by num_lact_heads ${c.num_lact_heads}`);
  if (c.lr_dim !== 1) fail(`lr_dim ${c.lr_dim} is not supported (only one learning rate per weight matrix and token, lr_dim = 1)`);
  if (c.lr_parameterization.toLowerCase() !== 'mamba') fail(`lr_parameterization "${c.lr_parameterization}" is not implemented (official code: only "mamba")`);
  if (Math.trunc((c.hidden_size / c.num_lact_heads) * c.inter_multi) < 1) fail('inter_multi makes the fast-weight hidden dim 0');
}

export function headDim(c: TttLayerConfig): number {
  return c.hidden_size / c.num_attention_heads;
}

/** Fast-weight head dim d and hidden dim dh = int(d · inter_multi) (LaCT). */
export function lactDims(c: LactLayerConfig): { d: number; dh: number; da: number } {
  const d = c.hidden_size / c.num_lact_heads;
  return { d, dh: Math.trunc(d * c.inter_multi), da: c.hidden_size / c.num_attn_heads };
}
