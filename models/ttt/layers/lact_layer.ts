import { EdgestreamError } from '../../../runtime/errors.js';
import type { StateLayout, StreamState } from '../../../runtime/stream/state.js';
import { lactDims, type LactLayerConfig, type RuntimeOptions } from '../config.js';
import { hasNonFinite, invSoftplus, l2Normalize, rmsNorm, sigmoid, silu, softplus } from '../math.js';
import { counterSlot, type Numerics, type ParamSource, type Projection, type StateVec, type Vec } from '../numeric.js';
import { lactParamSpec, shapeSize } from '../params.js';
import { FlaRopeTable, inverseFrequencies, rotateHalf } from './rope.js';
import { SlidingWindowAttention } from './sliding_window_attention.js';
import { resolveSchedule, SwigluFastWeights } from './swiglu_fast_weight.js';
import type { TokenMixer } from './token_mixer.js';

/**
 * LaCT's LM layer (layer_lact_swiglu.py `LaCTSWIGLULayer`) streamed one token at a time
 * (specs/ttt.md §4.3): sliding-window attention and the SwiGLU fast weights share one qkv
 * projection; out = o_proj(attention + concat_h ttt_norm(fw_h) · silu(scale_h)).
 */
export class LactLayer implements TokenMixer {
  readonly dim: number;
  readonly macsPerToken: number;
  readonly parameters: number;
  readonly fastWeights: SwigluFastWeights;

  private readonly nf: number;
  private readonly d: number;
  private readonly proj: Projection;
  private readonly oProj: Projection;
  private readonly offs: { lr: number; scale: number; mom: number; width: number };
  private readonly attention: SlidingWindowAttention;
  private readonly qNorm: Vec | null; private readonly kNorm: Vec | null;
  private readonly qkScale: Vec; private readonly qkOffset: Vec;
  private readonly tttNorm: Vec;
  private readonly rope: FlaRopeTable;
  private readonly lrBias: number;
  private readonly counter: StateVec;
  // workspace
  private readonly fused: Vec;
  private readonly aq: Vec; private readonly ak: Vec;
  private readonly fq: Vec; private readonly fk: Vec; private readonly fv: Vec;
  private readonly lr: Vec; private readonly mom: Vec;
  private readonly fw: Vec;
  private readonly o: Vec;
  private readonly cos: Vec; private readonly sin: Vec;

  constructor(num: Numerics, layout: StateLayout, readonly name: string, readonly config: LactLayerConfig, param: ParamSource,
    readonly maxBatch: number, runtime: RuntimeOptions) {
    const c = config;
    const C = (this.dim = c.hidden_size);
    const nf = (this.nf = c.num_lact_heads);
    const { d, dh, da } = lactDims(c);
    this.d = d;

    const parts: { w: Float64Array; b: Float64Array | null; rows: number }[] = [];
    let width = 0;
    const add = (w: Float64Array, b: Float64Array | null, rows: number): number => { parts.push({ w, b, rows }); width += rows; return width - rows; };
    add(param('qkv.weight'), c.qkv_bias ? param('qkv.bias') : null, 3 * C);
    const lr = add(param('lr_proj.weight'), param('lr_proj.bias'), 3 * nf);
    const scale = c.learnable_ttt_scale ? add(param('ttt_scale_proj.weight'), param('ttt_scale_proj.bias'), nf) : -1;
    const mom = c.use_momentum ? add(param('momentum_proj.0.weight'), param('momentum_proj.0.bias'), nf) : -1;
    this.offs = { lr, scale, mom, width };
    const w = new Float64Array(width * C);
    const bias = new Float64Array(width);
    let row = 0;
    for (const part of parts) {
      w.set(part.w, row * C);
      if (part.b) bias.set(part.b, row);
      row += part.rows;
    }
    this.proj = num.dense(`${name}.qkv`, w, bias, width, C);
    this.oProj = num.dense(`${name}.o_proj`, param('o_proj.weight'), null, C, C);
    this.attention = new SlidingWindowAttention(num, layout, name, C, c.num_attn_heads, c.window_size);
    this.qNorm = c.attn_qk_norm ? num.constant(param('q_norm.weight')) : null;
    this.kNorm = c.attn_qk_norm ? num.constant(param('k_norm.weight')) : null;
    this.qkScale = num.constant(param('qk_scale'));
    this.qkOffset = num.constant(param('qk_offset'));
    this.tttNorm = num.constant(param('ttt_norm.weight'));
    // fla's cache has max(L, max_position_embeddings) rows; L is open-ended unless the runtime knows it.
    const L = runtime.rope_sequence_length;
    this.rope = new FlaRopeTable(inverseFrequencies(da, c.rope_theta), L > 0 ? Math.max(L, c.max_position_embeddings ?? 0) : Infinity);
    this.lrBias = invSoftplus(0.001);

    // Initial fast weights: W0/W2 = W_left @ W_right + 0.5·I when low-rank (LowRankFastWeight, add_identity).
    const initial = (key: 'w0' | 'w2'): Float64Array => {
      if (c.w0_w2_low_rank <= 0) return param(key);
      const r = c.w0_w2_low_rank;
      const L = param(`${key}.w_left`);
      const R = param(`${key}.w_right`);
      const W = new Float64Array(nf * dh * d);
      for (let h = 0; h < nf; h++) {
        for (let a = 0; a < dh; a++) {
          for (let i = 0; i < d; i++) {
            let acc = 0;
            for (let k = 0; k < r; k++) acc += L[(h * dh + a) * r + k]! * R[(h * r + k) * d + i]!;
            W[(h * dh + a) * d + i] = a === i ? acc + 0.5 : acc;
          }
        }
      }
      return W;
    };
    const sched = resolveSchedule(runtime.schedule, c.use_muon, runtime.muon_spread_tokens, c.lact_chunk_size, name);
    this.fastWeights = new SwigluFastWeights(num, layout, `${name}.fw`,
      { heads: nf, d, dh, chunk: c.lact_chunk_size, muon: c.use_muon, momentum: c.use_momentum, prenorm: c.ttt_prenorm },
      { ...sched, learn: runtime.fast_weight_updates }, initial('w0'), param('w1'), initial('w2'));
    this.counter = counterSlot(layout, `${name}.t`);

    this.fused = num.alloc(maxBatch * width);
    this.aq = num.alloc(C); this.ak = num.alloc(C);
    this.fq = num.alloc(C); this.fk = num.alloc(C); this.fv = num.alloc(C);
    this.lr = num.alloc(3 * nf); this.mom = num.alloc(nf);
    this.fw = num.alloc(C);
    this.o = num.alloc(maxBatch * C);
    this.cos = num.alloc(da / 2); this.sin = num.alloc(da / 2);

    let params = 0;
    for (const s of lactParamSpec(c).values()) params += shapeSize(s);
    this.parameters = params;
    this.macsPerToken = width * C + C * C + 2 * Math.min(c.window_size, 1 << 30) * C + this.fastWeights.macsPerToken;
  }

  step(states: readonly StreamState[], n: number, x: Vec, out: Vec): void {
    const c = this.config;
    const { dim: C, nf, d, offs } = this;
    const W = offs.width;
    const Ha = c.num_attn_heads;
    const Da = C / Ha;
    const half = Da / 2;
    this.proj.apply(x, this.fused, n);
    if (hasNonFinite(this.fused, 0, n * W)) {
      throw new EdgestreamError('E_NONFINITE_INPUT', `${this.name}: the projections of this input overflow (NaN/Infinity); the stream state is unchanged`);
    }
    const { aq, ak, fq, fk, fv, fused } = this;
    for (let r = 0; r < n; r++) {
      const st = states[r]!;
      const t = st.f64[this.counter.offset]!;
      const row = r * W;
      for (let i = 0; i < C; i++) { aq[i] = fused[row + i]!; ak[i] = fused[row + C + i]!; fv[i] = fused[row + 2 * C + i]!; }
      if (this.qNorm) {
        rmsNorm(aq, 0, aq, 0, C, this.qNorm, 0, 1e-5);
        rmsNorm(ak, 0, ak, 0, C, this.kNorm, 0, 1e-5);
      }
      for (let i = 0; i < C; i++) {
        fq[i] = aq[i]! * this.qkScale[2 * i]! + this.qkOffset[2 * i]!;
        fk[i] = ak[i]! * this.qkScale[2 * i + 1]! + this.qkOffset[2 * i + 1]!;
      }
      this.rope.row(t, this.cos, this.sin);
      for (let h = 0; h < Ha; h++) {
        rotateHalf(aq, h * Da, half, this.cos, 0, this.sin, 0);
        rotateHalf(ak, h * Da, half, this.cos, 0, this.sin, 0);
      }
      this.attention.step(st, t, aq, 0, ak, 0, fv, 0, this.o, r * C);

      if (c.qkv_silu) {
        for (let i = 0; i < C; i++) { fq[i] = silu(fq[i]!); fk[i] = silu(fk[i]!); }
        if (!c.no_v_silu) for (let i = 0; i < C; i++) fv[i] = silu(fv[i]!);
      }
      for (let h = 0; h < nf; h++) { l2Normalize(fq, h * d, d, 1e-5); l2Normalize(fk, h * d, d, 1e-5); }
      if (!c.ttt_nope) {
        // The official layer re-splits the fast q/k with the attention head size for RoPE.
        for (let h = 0; h < Ha; h++) {
          rotateHalf(fq, h * Da, half, this.cos, 0, this.sin, 0);
          rotateHalf(fk, h * Da, half, this.cos, 0, this.sin, 0);
        }
      }
      for (let j = 0; j < 3 * nf; j++) this.lr[j] = softplus(fused[row + offs.lr + j]! + this.lrBias);
      if (offs.mom >= 0) for (let h = 0; h < nf; h++) this.mom[h] = sigmoid(fused[row + offs.mom + h]!);
      this.fastWeights.step(st, fq, 0, fk, 0, fv, 0, this.lr, 0, offs.mom >= 0 ? this.mom : null, 0, this.fw, 0);
      for (let h = 0; h < nf; h++) {
        rmsNorm(this.fw, h * d, this.fw, h * d, d, this.tttNorm, 0, 1e-5);
        const sc = offs.scale >= 0 ? silu(fused[row + offs.scale + h]!) : 1;
        for (let i = 0; i < d; i++) this.o[r * C + h * d + i] = this.o[r * C + h * d + i]! + this.fw[h * d + i]! * sc;
      }
      st.f64[this.counter.offset] = t + 1;
    }
    this.oProj.apply(this.o, out, n);
  }
}
