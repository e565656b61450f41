import { EdgestreamError } from '../../../runtime/errors.js';
import type { StateLayout, StreamState } from '../../../runtime/stream/state.js';
import { CausalWindow } from './causal_conv.js';
import { headDim, type RuntimeOptions, type TttLayerConfig } from '../config.js';
import { InnerLinear, InnerMlp, type InnerModel } from './ttt_inner.js';
import { geluTanh, hasNonFinite, layerNorm, sigmoid } from '../math.js';
import { counterSlot, stateArray, type Numerics, type ParamSource, type Projection, type StateVec, type Vec } from '../numeric.js';
import { tttParamSpec, shapeSize } from '../params.js';
import { inverseFrequencies, rotateInterleaved, TttRopeTable } from './rope.js';
import type { TokenMixer } from './token_mixer.js';

/**
 * TTT-Linear / TTT-MLP (ttt.py `TTTLinear` / `TTTMLP`) as a streaming layer, one token at a time.
 * Per token (specs/ttt.md §2):
 *   q, k, v = x W_qᵀ, x W_kᵀ, x W_vᵀ        (share_qk: q, k = causal convs of u = x W_qᵀ)
 *   RoPE (interleaved, float32 tables) at position m = t mod K
 *   η_h = base_lr · σ(x·w_h + b_h) / f ;  s = max(0, 1/(m+1) + learnable_token_idx[m])
 *   o_h = q_h + LN_h(z̄_h)                  (inner model step, see ttt_inner.ts)
 *   y = o_proj(gate ⊙ post_norm(concat o_h)),  gate = gelu_tanh(x W_gᵀ) if use_gate
 * Per-stream state: W⁰ and the gradient accumulators per head, the conv window, the token counter.
 */
export class TttLayer implements TokenMixer {
  readonly dim: number;
  readonly macsPerToken: number;
  readonly parameters: number;

  private readonly heads: number;
  private readonly f: number;
  private readonly K: number;
  private readonly proj: Projection;
  private readonly oProj: Projection;
  private readonly offs: { q: number; k: number; v: number; g: number; lr: number; width: number };
  private readonly inner: InnerModel;
  private readonly window: CausalWindow | null;
  private readonly convQW: Vec | null; private readonly convQB: Vec | null;
  private readonly convKW: Vec | null; private readonly convKB: Vec | null;
  private readonly tokenScale: Float64Array;
  private readonly rope: TttRopeTable;
  /** cos/sin rows (f values each): per position m = t mod K, or one row recomputed per token. */
  private readonly ropeCos: Vec;
  private readonly ropeSin: Vec;
  private readonly lnW: Vec; private readonly lnB: Vec;
  private readonly postW: Vec; private readonly postB: Vec;
  private readonly weights: StateVec;
  private readonly counter: StateVec;

  // workspace
  private readonly fused: Vec;
  private readonly qc: Vec;
  private readonly kc: Vec;
  private readonly o: Vec;
  private readonly zbar: Vec;
  private readonly zln: Vec;

  constructor(num: Numerics, layout: StateLayout, readonly name: string, readonly config: TttLayerConfig, param: ParamSource,
    readonly maxBatch: number, private readonly runtime: RuntimeOptions) {
    const c = config;
    const C = (this.dim = c.hidden_size);
    const nh = (this.heads = c.num_attention_heads);
    const f = (this.f = headDim(c));
    const K = (this.K = c.mini_batch_size);

    // One fused input projection: rows [q; k (unless share_qk); v; g (if use_gate); lr logits].
    const parts: { w: Float64Array; rows: number }[] = [];
    let width = 0;
    const add = (w: Float64Array, rows: number): number => { parts.push({ w, rows }); width += rows; return width - rows; };
    const q = add(param('q_proj.weight'), C);
    const k = c.share_qk ? -1 : add(param('k_proj.weight'), C);
    const v = add(param('v_proj.weight'), C);
    const g = c.use_gate ? add(param('g_proj.weight'), C) : -1;
    const lr = add(param('learnable_ttt_lr_weight'), nh);
    this.offs = { q, k, v, g, lr, width };
    const w = new Float64Array(width * C);
    let p = 0;
    for (const part of parts) { w.set(part.w, p); p += part.w.length; }
    const bias = new Float64Array(width);
    bias.set(param('learnable_ttt_lr_bias'), lr);
    this.proj = num.dense(`${name}.qkv`, w, bias, width, C);
    this.oProj = num.dense(`${name}.o_proj`, param('o_proj.weight'), null, C, C);

    if (c.share_qk) {
      this.window = new CausalWindow(num.state(layout, `${name}.conv_window`, (c.conv_kernel - 1) * C), C, c.conv_kernel);
      this.convQW = num.constant(param('conv_q.weight')); this.convQB = num.constant(param('conv_q.bias'));
      this.convKW = num.constant(param('conv_k.weight')); this.convKB = num.constant(param('conv_k.bias'));
    } else {
      this.window = null; this.convQW = null; this.convQB = null; this.convKW = null; this.convKB = null;
    }

    // token_idx is a float32 buffer in ttt.py (1.0 / arange), widened in a float64 model.
    const learnable = param('learnable_token_idx');
    this.tokenScale = new Float64Array(K);
    for (let m = 0; m < K; m++) this.tokenScale[m] = Math.max(0, Math.fround(1 / (m + 1)) + learnable[m]!);

    // RoPE positions only ever are t mod K: one table for the whole layer, unless the official
    // table's SLEEF vectors straddle rows (see TttRopeTable), then one row per token.
    this.rope = new TttRopeTable(inverseFrequencies(f, c.rope_theta), K, runtime.rope_sequence_length || Infinity);
    const rows = this.rope.dependsOnTokenIndex ? 1 : K;
    this.ropeCos = num.alloc(rows * f);
    this.ropeSin = num.alloc(rows * f);
    if (!this.rope.dependsOnTokenIndex) for (let m = 0; m < K; m++) this.rope.row(m, this.ropeCos, this.ropeSin, m * f);

    this.lnW = num.constant(param('ttt_norm_weight'));
    this.lnB = num.constant(param('ttt_norm_bias'));
    this.postW = num.constant(param('post_norm.weight'));
    this.postB = num.constant(param('post_norm.bias'));
    const alloc = (n: number): Vec => num.alloc(n);
    this.inner = c.ttt_layer_type === 'linear'
      ? new InnerLinear(f, num.constant(param('W1')), num.constant(param('b1')), alloc)
      : new InnerMlp(f, num.constant(param('W1')), num.constant(param('b1')), num.constant(param('W2')), num.constant(param('b2')), alloc);
    this.weights = num.state(layout, `${name}.fast_weights`, nh * this.inner.stateSize);
    this.counter = counterSlot(layout, `${name}.t`);

    this.fused = num.alloc(maxBatch * width);
    this.qc = num.alloc(C);
    this.kc = num.alloc(C);
    this.o = num.alloc(maxBatch * C);
    this.zbar = num.alloc(f);
    this.zln = num.alloc(f);

    let params = 0;
    for (const s of tttParamSpec(c).values()) params += shapeSize(s);
    this.parameters = params;
    const inner = c.ttt_layer_type === 'linear' ? 4 * f * f : 36 * f * f;
    this.macsPerToken = width * C + C * C + nh * inner + (c.share_qk ? 2 * C * c.conv_kernel : 0);
  }

  step(states: readonly StreamState[], n: number, x: Vec, out: Vec): void {
    const { dim: C, heads: nh, f, K, offs } = this;
    const W = offs.width;
    const half = f / 2;
    const learn = this.runtime.fast_weight_updates;
    this.proj.apply(x, this.fused, n);
    // Refuse before touching any state: an overflow here would poison the fast weights for good.
    if (hasNonFinite(this.fused, 0, n * W)) {
      throw new EdgestreamError('E_NONFINITE_INPUT', `${this.name}: the projections of this input overflow (NaN/Infinity); the stream state is unchanged`);
    }
    for (let r = 0; r < n; r++) {
      const st = states[r]!;
      const S = stateArray(st, this.weights);
      const base = this.weights.offset;
      const t = st.f64[this.counter.offset]!;
      const m = t % K;
      if (t === 0) for (let h = 0; h < nh; h++) this.inner.init(S, base + h * this.inner.stateSize, h);
      const row = r * W;
      let Q: Vec = this.fused, qo = row + offs.q, Kx: Vec = this.fused, ko = row + offs.k;
      if (this.window) {
        this.window.conv(st, this.fused, row + offs.q, this.convQW!, this.convQB!, this.qc, 0);
        this.window.conv(st, this.fused, row + offs.q, this.convKW!, this.convKB!, this.kc, 0);
        this.window.push(st, this.fused, row + offs.q);
        Q = this.qc; qo = 0; Kx = this.kc; ko = 0;
      }
      const s = this.tokenScale[m]!;
      let ro = m * f;
      if (this.rope.dependsOnTokenIndex) { this.rope.row(t, this.ropeCos, this.ropeSin, 0); ro = 0; }
      for (let h = 0; h < nh; h++) {
        const hq = qo + h * f;
        const hk = ko + h * f;
        rotateInterleaved(Q, hq, half, this.ropeCos, ro, this.ropeSin, ro);
        rotateInterleaved(Kx, hk, half, this.ropeCos, ro, this.ropeSin, ro);
        const eta = (this.config.ttt_base_lr * sigmoid(this.fused[row + offs.lr + h]!)) / f;
        this.inner.step(S, base + h * this.inner.stateSize, Q, hq, Kx, hk, this.fused, row + offs.v + h * f, eta, s,
          this.lnW, this.lnB, h * f, this.zbar, 0, learn);
        layerNorm(this.zln, 0, this.zbar, 0, f, this.lnW, h * f, this.lnB, h * f, 1e-6);
        const oo = r * C + h * f;
        for (let j = 0; j < f; j++) this.o[oo + j] = Q[hq + j]! + this.zln[j]!;
      }
      if (m === K - 1 && learn) {
        for (let h = 0; h < nh; h++) this.inner.commit(S, base + h * this.inner.stateSize, s);
      }
      st.f64[this.counter.offset] = t + 1;
      layerNorm(this.o, r * C, this.o, r * C, C, this.postW, 0, this.postB, 0, 1e-6);
      if (offs.g >= 0) {
        for (let c2 = 0; c2 < C; c2++) this.o[r * C + c2] = geluTanh(this.fused[row + offs.g + c2]!) * this.o[r * C + c2]!;
      }
    }
    this.oProj.apply(this.o, out, n);
  }
}
