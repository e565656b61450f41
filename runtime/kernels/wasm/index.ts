import { EdgestreamError } from '../../errors.js';
import { checkDenseArgs } from '../js/index.js';
import type { DenseLayer, DenseOptions, Kernels } from '../types.js';
import { WasmHeap } from './heap.js';
import { instantiateKernels, type KernelExports, type WasmTier } from './module.js';
import { packF32, packI8, packI8Pairs, packRows, ROW_PAD } from './pack.js';

/**
 * float32 spike layers: a stream's step runs the event-driven kernel when at most this fraction
 * of its inputs are active, the dense kernel otherwise (the two cost the same at about 65 %,
 * batch 1 and 64, on the bench machine; see README "Kernels"). int8 spike layers always take the
 * integer event-driven kernel for binary input: it is the faster one at every density.
 */
const F32_SPARSE_MAX_DENSITY = 0.6;

interface WasmDense extends DenseLayer {
  readonly owner: WasmKernels;
  /** float32 panels, or int8 panels + per-row scales (0 when absent). */
  readonly w: number;
  readonly q: number;
  readonly scale: number;
  readonly bias: number;
  /** float32 spike layers also keep the row layout of the event-driven kernel (0 otherwise). */
  readonly wt: number;
  readonly biasRows: number;
  freed: boolean;
  /** Spike layers: inputs seen and inputs active, stream-steps, and those run event-driven. */
  readonly spikes: { inputs: number; active: number; rows: number; sparseRows: number };
}

/** Observed activity of one spike layer (`WasmKernels.spikeStats`). */
export interface SpikeLayerStats {
  name: string;
  /** Fraction of inputs that were 1. */
  density: number;
  /** Fraction of stream-steps that took the event-driven kernel. */
  sparseFraction: number;
  /** Stream-steps seen (a batched step of n streams counts n). */
  rows: number;
}

/** A WASM SIMD tier: one instance of the kernel module over its own shared memory. */
export class WasmKernels implements Kernels {
  /** Spike index lists and counts, int16 activations: grown on demand, reused by every call. */
  private scratch = { ptr: 0, bytes: 0 };
  /** Address of every view `alloc` handed out: the per-call check is one WeakMap lookup. */
  private readonly addresses = new WeakMap<Float32Array, number>();
  private readonly layers = new Set<WasmDense>();

  private constructor(
    readonly tier: WasmTier,
    private readonly heap: WasmHeap,
    private readonly k: KernelExports,
  ) {}

  static async create(tier: WasmTier): Promise<WasmKernels> {
    const memory = WasmHeap.createMemory();
    const k = await instantiateKernels(tier, memory);
    return new WasmKernels(tier, new WasmHeap(memory, k.heap_base()), k);
  }

  /** Bytes of WASM linear memory in use (weights, workspace, scratch). */
  get memoryBytes(): number {
    return this.heap.size;
  }

  alloc(length: number): Float32Array {
    if (!(Number.isInteger(length) && length >= 0)) throw new EdgestreamError('E_BACKEND', `alloc: length must be a non-negative integer, got ${length}`);
    const ptr = this.heap.alloc(length * 4);
    const view = this.heap.f32(ptr, length);
    this.addresses.set(view, ptr);
    return view;
  }

  dense(w: Float32Array, b: Float32Array | null, outDim: number, inDim: number, options: DenseOptions = {}): DenseLayer {
    const name = options.name ?? 'dense';
    checkDenseArgs(w, b, outDim, inDim, name);
    const int8 = options.int8 === true;
    const base = { name, outDim, inDim, input: options.input ?? 'real', int8, owner: this, freed: false, spikes: { inputs: 0, active: 0, rows: 0, sparseRows: 0 } };
    if (int8) {
      const p = base.input === 'spikes' ? packI8(this.heap, w, b, outDim, inDim) : packI8Pairs(this.heap, w, b, outDim, inDim);
      const layer: WasmDense = { ...base, w: 0, q: p.q, scale: p.scale, bias: p.bias, wt: 0, biasRows: 0, bytes: p.bytes };
      this.layers.add(layer);
      return layer;
    }
    const p = packF32(this.heap, w, b, outDim, inDim);
    // Spike layers hold both layouts: panels for the dense kernel (dense spike steps), rows for
    // the event-driven one; each step reads only one of them.
    const r = base.input === 'spikes' ? packRows(this.heap, w, b, outDim, inDim) : null;
    const layer: WasmDense = { ...base, w: p.w, q: 0, scale: 0, bias: p.bias, wt: r?.wt ?? 0, biasRows: r?.bias ?? 0, bytes: p.bytes + (r?.bytes ?? 0) };
    this.layers.add(layer);
    return layer;
  }

  matmul(layer: DenseLayer, x: Float32Array, out: Float32Array, rows: number): void {
    const l = this.own(layer);
    const { inDim, outDim } = l;
    if (!(Number.isInteger(rows) && rows >= 0)) throw new EdgestreamError('E_INPUT_SHAPE', `${l.name}: rows must be a non-negative integer, got ${rows}`);
    if (x.length < rows * inDim || out.length < rows * outDim) {
      throw new EdgestreamError('E_INPUT_SHAPE', `${l.name}: ${rows} rows need x of ${rows * inDim} and out of ${rows * outDim} values, got ${x.length} and ${out.length}`);
    }
    const xp = this.address(x, l.name);
    const op = this.address(out, l.name);
    if (rows === 0) return;
    if (l.input === 'spikes') {
      const idxBytes = rows * inDim * 4;
      const cntBytes = Math.ceil(rows / 16) * 64;
      const idx = this.scratchOf(idxBytes + cntBytes + Math.max(256, Math.ceil(outDim / ROW_PAD) * ROW_PAD * 4));
      const cnt = idx + idxBytes;
      // acc: the int8 kernel's 64 int32 totals, or one padded output row of the float32 one.
      const acc = cnt + cntBytes;
      const active = this.k.spike_scan(xp, rows, inDim, idx, cnt);
      const maxActive = l.int8 ? inDim : Math.floor(F32_SPARSE_MAX_DENSITY * inDim);
      if (l.int8) this.k.dense_i8_spikes(l.q, l.scale, l.bias, xp, idx, cnt, op, rows, inDim, outDim, acc);
      else this.k.dense_f32_spikes(l.w, l.bias, l.wt, l.biasRows, xp, idx, cnt, op, rows, inDim, outDim, acc, maxActive);
      const st = l.spikes;
      st.inputs += rows * inDim;
      st.active += active;
      st.rows += rows;
      const words = this.heap.words();
      for (let r = 0, c = cnt >> 2; r < rows; r++) if (words[c + r]! >= 0 && words[c + r]! <= maxActive) st.sparseRows++;
      return;
    }
    if (!l.int8) this.k.dense_f32(l.w, l.bias, xp, op, rows, inDim, outDim);
    else {
      const qxBytes = Math.ceil((rows * Math.ceil(inDim / 2) * 4) / 64) * 64;
      const qx = this.scratchOf(qxBytes + rows * 4);
      this.k.quantize_i16(xp, rows, inDim, qx, qx + qxBytes);
      this.k.dense_i8q(l.q, l.scale, l.bias, qx, qx + qxBytes, op, rows, inDim, outDim);
    }
  }

  /**
   * Spike density and kernel choice of every spike layer that ran since it was prepared (or
   * since the last reset), across all programs on this instance.
   */
  spikeStats(reset = false): SpikeLayerStats[] {
    const out: SpikeLayerStats[] = [];
    for (const l of this.layers) {
      if (l.input !== 'spikes' || l.spikes.rows === 0) continue;
      const st = l.spikes;
      out.push({ name: l.name, density: st.inputs ? st.active / st.inputs : 0, sparseFraction: st.sparseRows / st.rows, rows: st.rows });
      if (reset) Object.assign(st, { inputs: 0, active: 0, rows: 0, sparseRows: 0 });
    }
    return out;
  }

  free(layer: DenseLayer): void {
    const l = this.own(layer);
    l.freed = true;
    this.layers.delete(l);
    for (const p of [l.w, l.q, l.scale, l.bias, l.wt, l.biasRows]) if (p) this.heap.release(p);
  }

  relu(x: Float32Array, count: number): void {
    this.k.relu_f32(this.ptr(x, count, 'relu'), count);
  }

  gelu(x: Float32Array, count: number): void {
    this.k.gelu_f32(this.ptr(x, count, 'gelu'), count);
  }

  add(dst: Float32Array, src: Float32Array, count: number): void {
    this.k.add_f32(this.ptr(dst, count, 'add'), this.ptr(src, count, 'add'), count);
  }

  affine(x: Float32Array, rows: number, dim: number, scale: Float32Array, shift: Float32Array): void {
    this.k.affine_f32(this.ptr(x, rows * dim, 'affine'), rows, dim, this.ptr(scale, dim, 'affine'), this.ptr(shift, dim, 'affine'));
  }

  lif(x: Float32Array, v: Float32Array, rows: number, dim: number, threshold: number, scale: Float32Array | null, shift: Float32Array | null): void {
    const n = rows * dim;
    const sp = scale ? this.ptr(scale, dim, 'lif') : 0;
    const tp = shift ? this.ptr(shift, dim, 'lif') : 0;
    if ((sp === 0) !== (tp === 0)) throw new EdgestreamError('E_BACKEND', 'lif: scale and shift must be given together');
    this.k.lif_f32(this.ptr(x, n, 'lif'), this.ptr(v, n, 'lif'), rows, dim, Math.fround(threshold), sp, tp);
  }

  /** The address of a buffer of this instance holding at least `count` values. */
  private ptr(a: Float32Array, count: number, op: string): number {
    if (!(Number.isInteger(count) && count >= 0 && count <= a.length)) {
      throw new EdgestreamError('E_INPUT_SHAPE', `${op}: ${count} values asked of a buffer of ${a.length}`);
    }
    return this.address(a, op);
  }

  /** Views from `alloc` are known; other views of this memory (subarrays) are checked by buffer. */
  private address(a: Float32Array, op: string): number {
    const p = this.addresses.get(a);
    if (p !== undefined) return p;
    if (this.heap.owns(a)) return a.byteOffset;
    throw new EdgestreamError('E_BACKEND', `${op}: kernel buffers must come from alloc() of this ${this.tier} kernel instance`);
  }

  private own(layer: DenseLayer): WasmDense {
    const l = layer as WasmDense;
    if (l.owner !== this) throw new EdgestreamError('E_BACKEND', `${layer.name}: this layer was prepared by another kernel instance`);
    if (l.freed) throw new EdgestreamError('E_BACKEND', `${layer.name}: this layer was freed`);
    return l;
  }

  /** A scratch block of at least `bytes` (its contents are the caller's until the next call). */
  private scratchOf(bytes: number): number {
    if (bytes > this.scratch.bytes) {
      if (this.scratch.ptr) this.heap.release(this.scratch.ptr);
      this.scratch = { ptr: this.heap.alloc(bytes), bytes };
    }
    return this.scratch.ptr;
  }

}

export function createWasmKernels(tier: WasmTier): Promise<Kernels> {
  return WasmKernels.create(tier);
}
