import { batchNormAffine, foldAffine, type Affine } from '../../runtime/layers/batch_norm.js';
import type { ModelFile } from '../../runtime/model/model_file.js';
import { GraphBuilder } from '../../runtime/onnx/graph_builder.js';
import { PackedState } from '../../runtime/onnx/packed_state.js';
import { DT } from '../../runtime/onnx/proto.js';
import { META, STEP_CONVENTION_VERSION, STEP_INPUTS, STEP_OUTPUTS } from '../../runtime/onnx/step_convention.js';
import { prepareLmuformer } from './family.js';
import { LMUFORMER_DELAY } from './lmuformer.js';
import { isSpiking, type LmuformerConfig, type Variant } from './variants.js';

/**
 * An LMUFormer model file as an ONNX step graph (step convention v1, runtime/onnx/step_convention.ts):
 * the same computation as `LmuformerProgram` (lmuformer.ts), written as graph nodes, with every
 * recurrent buffer in the packed state and the conv3 look-ahead expressed with masks:
 *  - each conv3 stage keeps its line buffer (prev, cur, carry) and a count (0 empty, 1 one frame
 *    in, 2 steady); it emits when it has a frame and either a new frame (`v`) or a flush (`f`)
 *    arrives; its output is the next stage's `v`;
 *  - on an `end` step the first stage still holding a frame flushes (zero look-ahead at its own
 *    input), exactly the order `LmuformerProgram.flush` uses; later stages see its output as an
 *    ordinary frame; so `delay` end steps drain a stream;
 *  - stateful layers (LIF membranes, LMU memory, the head's running mean) update only on rows
 *    whose input is valid (`Where`), so any mix of streams shares one run.
 * The head's running sum and count are float64 slots (stored as float32 pairs).
 */
export function lmuformerStepGraph(file: ModelFile): Uint8Array {
  const prepared = prepareLmuformer(file); // validates every tensor
  const variant = prepared.variant as Variant;
  const c = prepared.config as unknown as LmuformerConfig;
  const param = (key: string): Float32Array => file.tensors.get(key)!.data as Float32Array;
  const g = new GraphBuilder(`edgestream_${variant}`);
  const frame = g.input({ name: STEP_INPUTS.frame, elemType: DT.FLOAT, dims: ['N', c.mels] });
  const end = g.input({ name: STEP_INPUTS.end, elemType: DT.FLOAT, dims: ['N', 1] });
  const stateName = g.fresh(STEP_INPUTS.state);
  const st = new PackedState(g, stateName);
  const w = new Writer(g, st, param);

  const endB = g.op('Greater', [end, g.scalar(0.5)], {}, 'is_end');
  const patch = w.patchEmbedding(variant, c, frame, g.op('Not', [endB], {}, 'has_frame'), endB);
  let e = patch.e;
  const valid = patch.valid;
  for (let b = 0; b < c.depths; b++) e = w.block(variant, c, `block.${b}`, e, valid);
  if (variant === 'slmu_rnn_ms_conv1d') e = w.lif('head_lif', e, c.dim, 1.0, w.bn('head_bn'), valid);

  // Head on the cumulative mean, in float64 like MeanHead.
  const sum = st.f64('head.sum', c.dim);
  const count = st.f64('head.count', 1);
  const sumNext = g.op('Add', [sum.value, g.op('Cast', [e], { to: DT.DOUBLE })]);
  const countNext = g.op('Add', [count.value, g.scalar64(1)]);
  sum.set(g.op('Where', [valid, sumNext, sum.value]));
  count.set(g.op('Where', [valid, countNext, count.value]));
  const mean = g.op('Cast', [g.op('Div', [sumNext, countNext])], { to: DT.FLOAT }, 'head_mean');
  const logits = w.dense('head', mean, param('head.weight'), param('head.bias'));

  const stateNext = st.finish();
  g.input({ name: stateName, elemType: DT.FLOAT, dims: ['N', st.columns] });
  g.output({ name: STEP_OUTPUTS.output, elemType: DT.FLOAT, dims: ['N', c.classes] }, g.op('Where', [valid, logits, g.scalar(0)]));
  g.output({ name: STEP_OUTPUTS.ready, elemType: DT.FLOAT, dims: ['N', 1] }, g.op('Cast', [valid], { to: DT.FLOAT }));
  g.output({ name: STEP_OUTPUTS.state, elemType: DT.FLOAT, dims: ['N', st.columns] }, stateNext);

  const m = file.metadata;
  return g.encode({
    [META.convention]: String(STEP_CONVENTION_VERSION),
    [META.delay]: String(LMUFORMER_DELAY),
    [META.labels]: JSON.stringify(m.labels),
    [META.frontend]: JSON.stringify(m.frontend),
    [META.source]: JSON.stringify({ arch: m.arch, variant, config: c, ...(m.name !== undefined && { name: m.name }), ...(m.modelVersion !== undefined && { modelVersion: m.modelVersion }) }),
    [META.stateLayout]: JSON.stringify(st.slots),
  }, `edgestream step graph of LMUFormer ${variant} (dim ${c.dim}, depth ${c.depths})`);
}

interface StageOut {
  /** Conv output `[N, out]` (valid where `valid`). */
  y: string;
  /** The carried residual, aligned with `y`. */
  carry: string | null;
  valid: string;
  /** End-of-stream signal not yet consumed by this or an earlier stage. */
  endLeft: string;
}

class Writer {
  constructor(private readonly g: GraphBuilder, private readonly st: PackedState, private readonly param: (key: string) => Float32Array) {}

  bn(prefix: string): Affine {
    const p = this.param;
    return batchNormAffine({ weight: p(`${prefix}.weight`), bias: p(`${prefix}.bias`), runningMean: p(`${prefix}.running_mean`), runningVar: p(`${prefix}.running_var`) });
  }

  /** `x W^T + b` with `w` `[out, in]` row-major, optionally with a BatchNorm folded in (as the JS program does). */
  dense(name: string, x: string, w: Float32Array, b: Float32Array | null, bn?: Affine): string {
    const outDim = b?.length ?? bn!.scale.length;
    const folded = bn ? foldAffine(w, b, outDim, bn) : { w, b };
    const inputs = [x, this.g.f32(`${name}.weight`, folded.w, [outDim, w.length / outDim])];
    if (folded.b) inputs.push(this.g.f32(`${name}.bias`, folded.b, [outDim]));
    return this.g.op('Gemm', inputs, { transB: 1 }, name);
  }

  affine(x: string, a: Affine, name: string): string {
    const g = this.g;
    const n = a.scale.length;
    return g.op('Add', [g.op('Mul', [x, g.f32(`${name}.scale`, a.scale, [n])]), g.f32(`${name}.shift`, a.shift, [n])], {}, name);
  }

  /** Multi-step LIF (tau 2, hard reset), membrane updated only where `mask`; returns spikes as float. */
  lif(name: string, x: string, channels: number, threshold: number, affine: Affine | null, mask: string): string {
    const g = this.g;
    const v = this.st.f32(`${name}.v`, channels);
    const xi = affine ? this.affine(x, affine, `${name}.bn`) : x;
    const h = g.op('Add', [v.value, g.op('Mul', [g.op('Sub', [xi, v.value]), g.scalar(0.5)])], {}, `${name}.h`);
    const s = g.op('GreaterOrEqual', [h, g.scalar(threshold)], {}, `${name}.fire`);
    v.set(g.op('Where', [mask, g.op('Where', [s, g.scalar(0), h]), v.value]));
    return g.op('Cast', [s], { to: DT.FLOAT }, `${name}.spikes`);
  }

  /** One streamed conv3 (kernel 3, padding 1), `weight` `[out, in, 3]` (BatchNorm already folded if any). */
  conv3(name: string, weight: Float32Array, bias: Float32Array | null, outDim: number, inDim: number, x: string, carryIn: string | null, carryDim: number, v: string, endLeft: string): StageOut {
    const g = this.g;
    const prev = this.st.f32(`${name}.prev`, inDim);
    const cur = this.st.f32(`${name}.cur`, inDim);
    const carry = carryDim > 0 ? this.st.f32(`${name}.carry`, carryDim) : null;
    const count = this.st.f32(`${name}.count`, 1);
    const has = g.op('Greater', [count.value, g.scalar(0.5)], {}, `${name}.has`);
    const f = g.op('And', [endLeft, has], {}, `${name}.flush`);
    const xin = g.op('Where', [f, g.scalar(0), x], {}, `${name}.lookahead`);
    const window = g.op('Concat', [prev.value, cur.value, xin], { axis: 1 }, `${name}.window`);
    // Taps as one dense layer over the window [x[t−1]; x[t]; x[t+1]] (the same sum StreamingConv3
    // keeps as partial sums).
    const wr = new Float32Array(outDim * 3 * inDim);
    for (let o = 0; o < outDim; o++) {
      for (let i = 0; i < inDim; i++) {
        for (let k = 0; k < 3; k++) wr[o * 3 * inDim + k * inDim + i] = weight[(o * inDim + i) * 3 + k]!;
      }
    }
    const inputs = [window, g.f32(`${name}.weight`, wr, [outDim, 3 * inDim])];
    if (bias) inputs.push(g.f32(`${name}.bias`, bias, [outDim]));
    const y = g.op('Gemm', inputs, { transB: 1 }, name);
    const valid = g.op('And', [g.op('Or', [v, f]), has], {}, `${name}.valid`);
    prev.set(g.op('Where', [g.op('And', [v, has]), cur.value, prev.value]));
    cur.set(g.op('Where', [v, x, cur.value]));
    if (carry) carry.set(g.op('Where', [v, carryIn!, carry.value]));
    const counted = g.op('Where', [has, g.scalar(2), g.scalar(1)]);
    count.set(g.op('Where', [v, counted, g.op('Where', [f, g.scalar(0), count.value])]));
    return { y, carry: carry ? carry.value : null, valid, endLeft: g.op('And', [endLeft, g.op('Not', [has])], {}, `${name}.end_left`) };
  }

  /** The patch embedding; returns `e` and the rows it is valid for. */
  patchEmbedding(variant: Variant, c: LmuformerConfig, frame: string, hasFrame: string, endB: string): { e: string; valid: string } {
    const g = this.g;
    const p = this.param;
    const C = c.dim;
    let x = frame;
    let v = hasFrame;
    let endLeft = endB;
    const stage = (name: string, weight: Float32Array, bias: Float32Array | null, inDim: number, post: (y: string, valid: string) => string, residual = false, pre?: (x: string, v: string) => string): void => {
      const convIn = pre ? pre(x, v) : x;
      const s = this.conv3(name, weight, bias, C, inDim, convIn, residual ? x : null, residual ? inDim : 0, v, endLeft);
      let y = post(s.y, s.valid);
      if (s.carry) y = g.op('Add', [y, s.carry], {}, `${name}.residual`);
      x = y;
      v = s.valid;
      endLeft = s.endLeft;
    };
    const folded = (prefix: string, bn: string) => foldAffine(p(`${prefix}.weight`), null, C, this.bn(bn));

    if (variant === 'lmu_rnn_conv1d') {
      for (let i = 0; i < 4; i++) {
        const bn = this.bn(`patch_embed.conv_layers.${i}.3`);
        stage(`patch_embed.conv_layers.${i}.0`, p(`patch_embed.conv_layers.${i}.0.weight`), null, i === 0 ? c.mels : C,
          (y) => this.affine(g.op('Relu', [y]), bn, `patch_embed.conv_layers.${i}.3`));
      }
      stage('patch_embed.rpe_conv', p('patch_embed.rpe_conv.weight'), null, C, (y) => y, true);
      return { e: x, valid: v };
    }
    ['', '1', '2'].forEach((s, i) => {
      const f = folded(`patch_embed.proj_conv${s}`, `patch_embed.proj_bn${s}`);
      stage(`patch_embed.proj_conv${s}`, f.w, f.b, i === 0 ? c.mels : C, (y, valid) => this.lif(`patch_embed.proj_lif${s}`, y, C, 1.0, null, valid));
    });
    if (variant === 'slmu_rnn_conv1d') {
      const f3 = folded('patch_embed.proj_conv3', 'patch_embed.proj_bn3');
      stage('patch_embed.proj_conv3', f3.w, f3.b, C, (y, valid) => this.lif('patch_embed.proj_lif3', y, C, 1.0, null, valid));
      const fr = folded('patch_embed.rpe_conv', 'patch_embed.rpe_bn');
      stage('patch_embed.rpe_conv', fr.w, fr.b, C, (y, valid) => this.lif('patch_embed.rpe_lif', y, C, 1.0, null, valid), true);
    } else {
      stage('patch_embed.proj_conv3', p('patch_embed.proj_conv3.weight'), null, C, (y) => y);
      const bn3 = this.bn('patch_embed.proj_bn3');
      stage('patch_embed.rpe_conv', p('patch_embed.rpe_conv.weight'), null, C, (y) => y, true,
        (xi, vi) => this.lif('patch_embed.proj_lif3', xi, C, 1.0, bn3, vi));
    }
    return { e: x, valid: v };
  }

  /** One block (token mixer, channel mixer), as `Block.step` in lmuformer.ts. */
  block(variant: Variant, c: LmuformerConfig, prefix: string, e0: string, valid: string): string {
    const g = this.g;
    const p = this.param;
    const { dim: C, memory: M, mlpHidden: H } = c;
    const spiking = isSpiking(variant);
    const ms = variant === 'slmu_rnn_ms_conv1d';
    const a = `${prefix}.attn`;
    const ml = `${prefix}.mlp`;
    let e = e0;

    const xin = ms ? this.lif(`${a}.prev_lif`, e, C, 0.5, this.bn(`${a}.prev_bn`), valid) : e;
    let u = this.dense(`${a}.lmu.W_u`, xin, p(`${a}.lmu.W_u.weight`), p(`${a}.lmu.W_u.bias`), spiking ? this.bn(`${a}.lmu.bn_u`) : undefined);
    u = spiking ? this.lif(`${a}.lmu.f_u`, u, 1, 1.0, null, valid) : g.op('Relu', [u]);
    const mem = this.st.f32(`${a}.lmu.m`, M);
    const am = g.op('Gemm', [mem.value, g.f32(`${a}.lmu.A`, p(`${a}.lmu.A`), [M, M])], { transB: 1 }, `${a}.lmu.Am`);
    const m = g.op('Add', [am, g.op('Mul', [u, g.f32(`${a}.lmu.B`, p(`${a}.lmu.B`), [1, M])])], {}, `${a}.lmu.m`);
    mem.set(g.op('Where', [valid, m, mem.value]));
    const mf = spiking ? this.lif(`${a}.lmu.f_m`, m, M, 1.0, this.bn(`${a}.lmu.bn_m`), valid) : m;
    const cat = g.op('Concat', [mf, xin], { axis: 1 }, `${a}.lmu.cat`);
    let h = this.dense(`${a}.lmu.W_h`, cat, p(`${a}.lmu.W_h.weight`), p(`${a}.lmu.W_h.bias`), spiking ? this.bn(`${a}.lmu.bn_h`) : undefined);
    h = spiking ? this.lif(`${a}.lmu.f_h`, h, C, 1.0, null, valid) : g.op('Relu', [h]);
    let att = this.dense(`${a}.proj_conv`, h, p(`${a}.proj_conv.weight`), p(`${a}.proj_conv.bias`), this.bn(`${a}.proj_bn`));
    if (variant === 'slmu_rnn_conv1d') att = this.lif(`${a}.proj_lif`, att, C, 1.0, null, valid);
    e = g.op('Add', [e, att], {}, `${a}.residual`);

    let f: string;
    let out: string;
    if (ms) {
      const x1 = this.lif(`${ml}.fc1_lif`, e, C, 1.0, this.bn(`${ml}.fc1_bn`), valid);
      f = this.dense(`${ml}.fc1_conv`, x1, p(`${ml}.fc1_conv.weight`), p(`${ml}.fc1_conv.bias`));
      f = this.lif(`${ml}.fc2_lif`, f, H, 1.0, this.bn(`${ml}.fc2_bn`), valid);
      out = this.dense(`${ml}.fc2_conv`, f, p(`${ml}.fc2_conv.weight`), p(`${ml}.fc2_conv.bias`));
    } else {
      f = this.dense(`${ml}.fc1_conv`, e, p(`${ml}.fc1_conv.weight`), p(`${ml}.fc1_conv.bias`), this.bn(`${ml}.fc1_bn`));
      f = spiking ? this.lif(`${ml}.fc1_lif`, f, H, 1.0, null, valid) : this.gelu(f, `${ml}.gelu`);
      out = this.dense(`${ml}.fc2_conv`, f, p(`${ml}.fc2_conv.weight`), p(`${ml}.fc2_conv.bias`), this.bn(`${ml}.fc2_bn`));
      out = spiking ? this.lif(`${ml}.fc2_lif`, out, C, 1.0, null, valid) : g.op('Relu', [out]);
    }
    return g.op('Add', [e, out], {}, `${ml}.residual`);
  }

  /** Exact (erf) GELU, as PyTorch's nn.GELU(). */
  gelu(x: string, name: string): string {
    const g = this.g;
    const erf = g.op('Erf', [g.op('Mul', [x, g.scalar(Math.SQRT1_2)])]);
    return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [erf, g.scalar(1)])], {}, name);
  }
}
