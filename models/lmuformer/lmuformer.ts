import { EdgestreamError } from '../../runtime/errors.js';
import type { DenseLayer, InputKind, Kernels } from '../../runtime/kernels/types.js';
import { batchNormAffine, foldAffine, type Affine } from '../../runtime/layers/batch_norm.js';
import { StreamingConv3 } from '../../runtime/layers/conv3.js';
import { Lif } from '../../runtime/layers/lif.js';
import { LmuMemory } from '../../runtime/layers/lmu_memory.js';
import { MeanHead } from '../../runtime/layers/mean_head.js';
import { allRows, RowSet, type Rows } from '../../runtime/layers/rows.js';
import type { StreamProgram } from '../../runtime/stream/program.js';
import { StateLayout, type StreamState } from '../../runtime/stream/state.js';
import { isSpiking, type LmuformerConfig, type Variant } from './variants.js';

/**
 * An LMUFormer variant as a streaming program: the official parallel `forward` (eval mode,
 * `test_mode='all_seq'`) computed one frame at a time. See ../../../shared/specs/lmuformer.md.
 *
 *   frame ─▶ patch embedding: 4 conv3 stages, then e = x + rpe(x)   (5 look-aheads: delay 5)
 *         ─▶ blocks: e += token_mixer(e) (LMU / spiking LMU); e += channel_mixer(e) (ConvFFN)
 *         ─▶ head on the cumulative mean of e  ─▶ logits for the frame 5 frames back
 */
export interface LmuformerOptions {
  /** Largest batch `step` accepts (workspace is sized for it). Default 1. */
  maxBatch?: number;
  /** Store the large weight matrices as int8 with per-row scales (A and B stay float32). */
  int8?: boolean;
  /**
   * Prepared dense layers by name, shared by the programs of one model on one kernel instance:
   * a model's session program and an engine's batched program hold one copy of the weights.
   */
  shared?: Map<string, DenseLayer>;
  /**
   * Head over the mean of the last `headWindow` frames instead of everything since the stream
   * began (0, the default, is the official cumulative mean): continuous keyword spotting on
   * unbounded streams without resetting the recurrent state.
   */
  headWindow?: number;
}

export type ParameterSource = (key: string) => Float32Array;

/** Delay of every variant: four conv3 stages plus the rpe conv3, each one frame of look-ahead. */
export const LMUFORMER_DELAY = 5;

export class LmuformerProgram implements StreamProgram {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly delay = LMUFORMER_DELAY;
  readonly stateSizes: { f32: number; f64: number };
  readonly maxBatch: number;
  readonly layout = new StateLayout();

  /** Every spiking neuron layer, in graph order (activity reports, BatchNorm calibration). */
  readonly neurons: Lif[] = [];
  private readonly stages: PatchStage[];
  private readonly blocks: Block[];
  private readonly headLif: Lif | null;
  private readonly head: MeanHead;
  private readonly logits: Float32Array;
  /** The step's input frames in kernel memory, and the batch's rows (both reused every step). */
  private readonly input: Float32Array;
  private readonly rows: RowSet;

  constructor(readonly variant: Variant, readonly config: LmuformerConfig, param: ParameterSource, readonly kernels: Kernels, options: LmuformerOptions = {}) {
    const maxBatch = (this.maxBatch = options.maxBatch ?? 1);
    const int8 = options.int8 === true;
    const { dim: C, mels: F, classes: K } = config;
    this.inputDim = F;
    this.outputDim = K;
    const ctx: BuildContext = { kernels, layout: this.layout, maxBatch, param, int8, variant, neurons: this.neurons, shared: options.shared ?? null };
    this.stages = buildPatchEmbedding(ctx, config);
    this.blocks = Array.from({ length: config.depths }, (_, i) => new Block(ctx, config, `block.${i}`));
    this.headLif = variant === 'slmu_rnn_ms_conv1d'
      ? newLif(ctx, 'head_lif', 'head_bn', C, 1.0, bnAffine(param, 'head_bn'))
      : null;
    this.head = new MeanHead(kernels, this.layout, 'head', param('head.weight'), param('head.bias'), K, C, maxBatch, int8, ctx.shared, options.headWindow ?? 0);
    this.logits = kernels.alloc(maxBatch * K);
    this.input = kernels.alloc(maxBatch * F);
    this.rows = new RowSet(maxBatch);
    this.stateSizes = this.layout.sizes;
  }

  /** A fresh stream state in kernel memory, where the layers update it in place. */
  createState(): StreamState {
    return { f32: this.kernels.allocState(this.stateSizes.f32), f64: new Float64Array(this.stateSizes.f64) };
  }

  releaseState(state: StreamState): void {
    this.kernels.release(state.f32);
  }

  step(states: readonly StreamState[], n: number, input: Float32Array, out: Float32Array, ready: Uint8Array): void {
    if (n > this.maxBatch) throw new EdgestreamError('E_INPUT_SHAPE', `batch of ${n} exceeds this model instance's maxBatch ${this.maxBatch}`);
    ready.fill(0, 0, n);
    let rows: Rows = this.rows.fill(states, n);
    const F = this.inputDim;
    if (input.length < n * F) throw new EdgestreamError('E_INPUT_SHAPE', `a batch of ${n} needs ${n * F} input values, got ${input.length}`);
    this.input.set(n * F === input.length ? input : input.subarray(0, n * F));
    let x = this.input;
    for (const stage of this.stages) {
      rows = stage.push(rows, x);
      if (rows.n === 0) return; // streams still filling the look-ahead
      x = stage.out;
    }
    this.finish(rows, x, out, ready);
  }

  flush(state: StreamState): Float32Array[] {
    const results: Float32Array[] = [];
    const K = this.outputDim;
    const out = new Float32Array(K);
    const ready = new Uint8Array(1);
    // Stage k's last output (zero look-ahead at its own input) flows on through stages k+1…
    // as an ordinary frame; then stage k+1 is flushed, and so on.
    for (let k = 0; k < this.stages.length; k++) {
      let rows = this.stages[k]!.flush(allRows([state], 1));
      let x = this.stages[k]!.out;
      for (let j = k + 1; j < this.stages.length && rows.n > 0; j++) {
        rows = this.stages[j]!.push(rows, x);
        x = this.stages[j]!.out;
      }
      if (rows.n === 0) continue;
      ready[0] = 0;
      this.finish(rows, x, out, ready);
      if (ready[0]) results.push(Float32Array.from(out));
    }
    return results;
  }

  /** Blocks and head for rows whose patch embedding `e` is ready; scatters logits to `out`. */
  private finish(rows: Rows, e: Float32Array, out: Float32Array, ready: Uint8Array): void {
    for (const block of this.blocks) block.step(rows, e);
    if (this.headLif) this.headLif.step(rows, e);
    this.head.step(rows, e, this.logits);
    const K = this.outputDim;
    const logits = this.logits;
    for (let j = 0; j < rows.n; j++) {
      const r = rows.index[j]!;
      for (let k = 0; k < K; k++) out[r * K + k] = logits[j * K + k]!;
      ready[r] = 1;
    }
  }
}

interface BuildContext {
  kernels: Kernels;
  layout: StateLayout;
  maxBatch: number;
  param: ParameterSource;
  int8: boolean;
  variant: Variant;
  neurons: Lif[];
  shared: Map<string, DenseLayer> | null;
}

/** A LIF layer with its membrane slot, fed by the BatchNorm `bn`. */
function newLif(ctx: BuildContext, name: string, bn: string, channels: number, threshold = 1.0, affine: Affine | null = null): Lif {
  const lif = new Lif(ctx.kernels, bn, ctx.layout.f32(`${name}.v`, channels), channels, threshold, affine);
  ctx.neurons.push(lif);
  return lif;
}

function bnAffine(param: ParameterSource, prefix: string): Affine {
  return batchNormAffine({
    weight: param(`${prefix}.weight`), bias: param(`${prefix}.bias`),
    runningMean: param(`${prefix}.running_mean`), runningVar: param(`${prefix}.running_var`),
  });
}

/** Multiply a conv3 weight [out, in, 3] by a per-output-channel scale (BatchNorm folding). */
function foldConv3(w: Float32Array, outDim: number, affine: Affine): { w: Float32Array; b: Float32Array } {
  return foldAffine(w, null, outDim, affine);
}

/**
 * One conv3 stage of the patch embedding: [pre] → conv3 → post, optionally adding the
 * stage's (delay-aligned) input as a residual: the `e = x + rpe(x)` of every variant.
 */
class PatchStage {
  readonly out: Float32Array;
  private readonly carry: Float32Array | null;
  private readonly preOut: Float32Array | null;
  private readonly kernels: Kernels;

  constructor(
    ctx: BuildContext,
    private readonly conv: StreamingConv3,
    private readonly post: (rows: Rows, y: Float32Array) => void,
    private readonly residual: boolean,
    /** A per-frame op on the stage input before the conv (its output feeds the conv; the raw input is the residual). */
    private readonly pre: ((rows: Rows, x: Float32Array, into: Float32Array) => void) | null = null,
  ) {
    this.kernels = ctx.kernels;
    this.out = ctx.kernels.alloc(ctx.maxBatch * conv.outDim);
    this.carry = residual ? ctx.kernels.alloc(ctx.maxBatch * conv.inDim) : null;
    this.preOut = pre ? ctx.kernels.alloc(ctx.maxBatch * conv.inDim) : null;
  }

  push(rows: Rows, x: Float32Array): Rows {
    let convIn = x;
    if (this.pre) {
      this.kernels.copyRows(this.preOut!, 0, 0, x, 0, 0, null, rows.n * this.conv.inDim, 1);
      this.pre(rows, x, this.preOut!);
      convIn = this.preOut!;
    }
    return this.finish(this.conv.step(rows, convIn, this.out, this.residual ? x : undefined, this.carry ?? undefined));
  }

  flush(rows: Rows): Rows {
    return this.finish(this.conv.step(rows, null, this.out, undefined, this.carry ?? undefined));
  }

  private finish(rows: Rows): Rows {
    if (rows.n === 0) return rows;
    this.post(rows, this.out);
    if (this.carry) this.kernels.add(this.out, this.carry, rows.n * this.conv.outDim);
    return rows;
  }
}

function buildPatchEmbedding(ctx: BuildContext, c: LmuformerConfig): PatchStage[] {
  const { kernels, layout, maxBatch, param, int8, variant, shared } = ctx;
  const C = c.dim;
  const conv = (name: string, w: Float32Array, b: Float32Array | null, inDim: number, input: InputKind, carry: number) =>
    new StreamingConv3(kernels, layout, name, w, b, C, inDim, carry, maxBatch, input, int8, shared);
  const lif = (name: string, bn: string, threshold = 1.0, affine: Affine | null = null) => newLif(ctx, name, bn, C, threshold, affine);

  if (variant === 'lmu_rnn_conv1d') {
    // Tokenizer: 4 × (conv3 → ReLU → BatchNorm), then e = x + rpe_conv(x).
    const stages = [0, 1, 2, 3].map((i) => {
      const bn = bnAffine(param, `patch_embed.conv_layers.${i}.3`);
      const scale = kernels.alloc(C);
      const shift = kernels.alloc(C);
      scale.set(bn.scale);
      shift.set(bn.shift);
      const cv = conv(`patch_embed.conv_layers.${i}.0`, param(`patch_embed.conv_layers.${i}.0.weight`), null, i === 0 ? c.mels : C, 'real', 0);
      return new PatchStage(ctx, cv, (rows, y) => { kernels.relu(y, rows.n * C); kernels.affine(y, rows.n, C, scale, shift); }, false);
    });
    const rpe = conv('patch_embed.rpe_conv', param('patch_embed.rpe_conv.weight'), null, C, 'real', C);
    stages.push(new PatchStage(ctx, rpe, () => {}, true));
    return stages;
  }

  // Conv1d4EB / Conv1d4EBMs: proj_conv{,1,2} → BN → LIF (BN folded into the conv).
  const stages: PatchStage[] = ['', '1', '2'].map((s, i) => {
    const f = foldConv3(param(`patch_embed.proj_conv${s}.weight`), C, bnAffine(param, `patch_embed.proj_bn${s}`));
    const cv = conv(`patch_embed.proj_conv${s}`, f.w, f.b, i === 0 ? c.mels : C, i === 0 ? 'real' : 'spikes', 0);
    const l = lif(`patch_embed.proj_lif${s}`, `patch_embed.proj_bn${s}`);
    return new PatchStage(ctx, cv, (rows, y) => l.step(rows, y), false);
  });
  if (variant === 'slmu_rnn_conv1d') {
    // x = LIF(BN(proj_conv3(·))); e = x + LIF(rpe_bn(rpe_conv(x))).
    const f3 = foldConv3(param('patch_embed.proj_conv3.weight'), C, bnAffine(param, 'patch_embed.proj_bn3'));
    const l3 = lif('patch_embed.proj_lif3', 'patch_embed.proj_bn3');
    stages.push(new PatchStage(ctx, conv('patch_embed.proj_conv3', f3.w, f3.b, C, 'spikes', 0), (rows, y) => l3.step(rows, y), false));
    const fr = foldConv3(param('patch_embed.rpe_conv.weight'), C, bnAffine(param, 'patch_embed.rpe_bn'));
    const lr = lif('patch_embed.rpe_lif', 'patch_embed.rpe_bn');
    stages.push(new PatchStage(ctx, conv('patch_embed.rpe_conv', fr.w, fr.b, C, 'spikes', C), (rows, y) => lr.step(rows, y), true));
  } else {
    // x = proj_conv3(·) (real valued); e = x + rpe_conv(LIF(proj_bn3(x))).
    stages.push(new PatchStage(ctx, conv('patch_embed.proj_conv3', param('patch_embed.proj_conv3.weight'), null, C, 'spikes', 0), () => {}, false));
    const l3 = lif('patch_embed.proj_lif3', 'patch_embed.proj_bn3', 1.0, bnAffine(param, 'patch_embed.proj_bn3'));
    const rpe = conv('patch_embed.rpe_conv', param('patch_embed.rpe_conv.weight'), null, C, 'spikes', C);
    stages.push(new PatchStage(ctx, rpe, () => {}, true, (rows, _x, into) => l3.step(rows, into)));
  }
  return stages;
}

/**
 * One block: e += token_mixer(e); e += channel_mixer(e).
 *  - token mixer (LMU cell): u = act(W_u·xin); m = A·m + B·u; h = act(W_h·[mfeat; xin]); a = proj(h)
 *      lmu:  xin = e, acts ReLU, mfeat = m
 *      slmu: xin = e, acts LIF after folded BN, mfeat = LIF(bn_m(m)), a = LIF(BN(proj(h)))
 *      ms:   xin = LIF_θ=0.5(prev_bn(e)), acts as slmu, a = BN(proj(h)) without LIF
 *  - channel mixer (ConvFFN):
 *      lmu:  ReLU(BN(fc2(GELU(BN(fc1(e))))))
 *      slmu: LIF(BN(fc2(LIF(BN(fc1(e))))))
 *      ms:   fc2(LIF(fc2_bn(fc1(LIF(fc1_bn(e))))))
 */
class Block {
  private readonly spiking: boolean;
  private readonly ms: boolean;
  private readonly C: number;
  private readonly M: number;
  private readonly H: number;
  private readonly kernels: Kernels;

  private readonly prevLif: Lif | null;
  private readonly wU; private readonly uLif: Lif | null;
  private readonly memory: LmuMemory;
  private readonly mLif: Lif | null;
  private readonly wH; private readonly hLif: Lif | null;
  private readonly proj; private readonly projLif: Lif | null;
  private readonly fc1Lif: Lif | null; private readonly fc1;
  private readonly fc2Lif: Lif | null; private readonly fc2;
  private readonly outLif: Lif | null; private readonly hidLif: Lif | null;

  // workspace
  private readonly xin: Float32Array; private readonly u: Float32Array; private readonly m: Float32Array;
  private readonly cat: Float32Array; private readonly h: Float32Array; private readonly a: Float32Array;
  private readonly f: Float32Array;

  constructor(ctx: BuildContext, c: LmuformerConfig, prefix: string) {
    const { kernels, layout, maxBatch, param, int8, variant } = ctx;
    this.kernels = kernels;
    this.spiking = isSpiking(variant);
    this.ms = variant === 'slmu_rnn_ms_conv1d';
    const C = (this.C = c.dim);
    const M = (this.M = c.memory);
    const H = (this.H = c.mlpHidden);
    const a = `${prefix}.attn`;
    const ml = `${prefix}.mlp`;
    const lif = (name: string, bn: string, n: number, threshold = 1.0, affine: Affine | null = null) => newLif(ctx, name, bn, n, threshold, affine);
    const dense = (name: string, w: Float32Array, b: Float32Array | null, outDim: number, inDim: number, input: InputKind, bn?: string, keepFloat = false): DenseLayer => {
      const q = int8 && !keepFloat;
      const key = `${name}${q ? ':int8' : ''}`;
      const have = ctx.shared?.get(key);
      if (have) return have;
      const folded = bn ? foldAffine(w, b, outDim, bnAffine(param, bn)) : { w, b };
      const layer = kernels.dense(folded.w, folded.b, outDim, inDim, { name, input, int8: q });
      ctx.shared?.set(key, layer);
      return layer;
    };
    const spikeIn: InputKind = this.ms ? 'spikes' : 'real';

    this.prevLif = this.ms ? lif(`${a}.prev_lif`, `${a}.prev_bn`, C, 0.5, bnAffine(param, `${a}.prev_bn`)) : null;
    this.wU = dense(`${a}.lmu.W_u`, param(`${a}.lmu.W_u.weight`), param(`${a}.lmu.W_u.bias`), 1, C, spikeIn, this.spiking ? `${a}.lmu.bn_u` : undefined, true);
    this.uLif = this.spiking ? lif(`${a}.lmu.f_u`, `${a}.lmu.bn_u`, 1) : null;
    this.memory = new LmuMemory(kernels, layout, `${a}.lmu`, param(`${a}.lmu.A`), param(`${a}.lmu.B`), M, maxBatch, ctx.shared);
    this.mLif = this.spiking ? lif(`${a}.lmu.f_m`, `${a}.lmu.bn_m`, M, 1.0, bnAffine(param, `${a}.lmu.bn_m`)) : null;
    this.wH = dense(`${a}.lmu.W_h`, param(`${a}.lmu.W_h.weight`), param(`${a}.lmu.W_h.bias`), C, M + C, spikeIn, this.spiking ? `${a}.lmu.bn_h` : undefined);
    this.hLif = this.spiking ? lif(`${a}.lmu.f_h`, `${a}.lmu.bn_h`, C) : null;
    this.proj = dense(`${a}.proj_conv`, param(`${a}.proj_conv.weight`), param(`${a}.proj_conv.bias`), C, C, this.spiking ? 'spikes' : 'real', `${a}.proj_bn`);
    this.projLif = variant === 'slmu_rnn_conv1d' ? lif(`${a}.proj_lif`, `${a}.proj_bn`, C) : null;

    if (this.ms) {
      this.fc1Lif = lif(`${ml}.fc1_lif`, `${ml}.fc1_bn`, C, 1.0, bnAffine(param, `${ml}.fc1_bn`));
      this.fc1 = dense(`${ml}.fc1_conv`, param(`${ml}.fc1_conv.weight`), param(`${ml}.fc1_conv.bias`), H, C, 'spikes');
      this.fc2Lif = lif(`${ml}.fc2_lif`, `${ml}.fc2_bn`, H, 1.0, bnAffine(param, `${ml}.fc2_bn`));
      this.fc2 = dense(`${ml}.fc2_conv`, param(`${ml}.fc2_conv.weight`), param(`${ml}.fc2_conv.bias`), C, H, 'spikes');
      this.hidLif = null;
      this.outLif = null;
    } else {
      this.fc1Lif = null;
      this.fc2Lif = null;
      this.fc1 = dense(`${ml}.fc1_conv`, param(`${ml}.fc1_conv.weight`), param(`${ml}.fc1_conv.bias`), H, C, 'real', `${ml}.fc1_bn`);
      this.fc2 = dense(`${ml}.fc2_conv`, param(`${ml}.fc2_conv.weight`), param(`${ml}.fc2_conv.bias`), C, H, this.spiking ? 'spikes' : 'real', `${ml}.fc2_bn`);
      this.hidLif = this.spiking ? lif(`${ml}.fc1_lif`, `${ml}.fc1_bn`, H) : null;
      this.outLif = this.spiking ? lif(`${ml}.fc2_lif`, `${ml}.fc2_bn`, C) : null;
    }

    this.xin = kernels.alloc(maxBatch * C);
    this.u = kernels.alloc(maxBatch);
    this.m = kernels.alloc(maxBatch * M);
    this.cat = kernels.alloc(maxBatch * (M + C));
    this.h = kernels.alloc(maxBatch * C);
    this.a = kernels.alloc(maxBatch * Math.max(C, H));
    this.f = kernels.alloc(maxBatch * Math.max(C, H));
  }

  step(rows: Rows, e: Float32Array): void {
    const { C, M, H, kernels } = this;
    const n = rows.n;

    // Token mixer.
    let xin = e;
    if (this.prevLif) {
      kernels.copyRows(this.xin, 0, 0, e, 0, 0, null, n * C, 1);
      this.prevLif.step(rows, this.xin);
      xin = this.xin;
    }
    kernels.matmul(this.wU, xin, this.u, n);
    if (this.uLif) this.uLif.step(rows, this.u);
    else kernels.relu(this.u, n);
    this.memory.step(rows, this.u, this.m);
    if (this.mLif) this.mLif.step(rows, this.m);
    kernels.copyRows(this.cat, 0, M + C, this.m, 0, M, null, M, n);
    kernels.copyRows(this.cat, M, M + C, xin, 0, C, null, C, n);
    kernels.matmul(this.wH, this.cat, this.h, n);
    if (this.hLif) this.hLif.step(rows, this.h);
    else kernels.relu(this.h, n * C);
    kernels.matmul(this.proj, this.h, this.a, n);
    if (this.projLif) this.projLif.step(rows, this.a);
    kernels.add(e, this.a, n * C);

    // Channel mixer.
    let x1 = e;
    if (this.fc1Lif) {
      kernels.copyRows(this.a, 0, 0, e, 0, 0, null, n * C, 1);
      this.fc1Lif.step(rows, this.a);
      x1 = this.a;
    }
    kernels.matmul(this.fc1, x1, this.f, n);
    if (this.fc2Lif) this.fc2Lif.step(rows, this.f);
    else if (this.hidLif) this.hidLif.step(rows, this.f);
    else kernels.gelu(this.f, n * H);
    kernels.matmul(this.fc2, this.f, this.a, n);
    if (this.outLif) this.outLif.step(rows, this.a);
    else if (!this.ms) kernels.relu(this.a, n * C);
    kernels.add(e, this.a, n * C);
  }
}

