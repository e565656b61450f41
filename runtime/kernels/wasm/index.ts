import { EdgestreamError } from '../../errors.js';
import { checkDenseArgs } from '../js/index.js';
import type { DenseLayer, DenseOptions, Kernels } from '../types.js';
import { WasmHeap } from './heap.js';
import { instantiateKernels, type KernelExports, type WasmTier } from './module.js';
import { packF32, packI8 } from './pack.js';

/**
 * Spike layers: the event-driven kernel runs when at most this fraction of the batch's inputs
 * are active, the dense kernel otherwise (measured on this repository's bench machine: the
 * sparse kernels only add, the dense ones multiply-add with weights shared across 4 streams).
 */
const SPARSE_MAX_DENSITY = { f32: 0.5, i8: 0.5 } as const;

interface WasmDense extends DenseLayer {
  readonly owner: WasmKernels;
  /** float32 panels, or int8 panels + per-row scales (0 when absent). */
  readonly w: number;
  readonly q: number;
  readonly scale: number;
  readonly bias: number;
  freed: boolean;
}

/** A WASM SIMD tier: one instance of the kernel module over its own shared memory. */
export class WasmKernels implements Kernels {
  /** Index lists and counts for spike layers, grown on demand. */
  private scratch = { ptr: 0, bytes: 0 };

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
    return this.heap.f32(this.heap.alloc(length * 4), length);
  }

  dense(w: Float32Array, b: Float32Array | null, outDim: number, inDim: number, options: DenseOptions = {}): DenseLayer {
    const name = options.name ?? 'dense';
    checkDenseArgs(w, b, outDim, inDim, name);
    const int8 = options.int8 === true;
    const base = { name, outDim, inDim, input: options.input ?? 'real', int8, owner: this, freed: false };
    if (int8) {
      const p = packI8(this.heap, w, b, outDim, inDim);
      const layer: WasmDense = { ...base, w: 0, q: p.q, scale: p.scale, bias: p.bias, bytes: p.bytes };
      return layer;
    }
    const p = packF32(this.heap, w, b, outDim, inDim);
    const layer: WasmDense = { ...base, w: p.w, q: 0, scale: 0, bias: p.bias, bytes: p.bytes };
    return layer;
  }

  matmul(layer: DenseLayer, x: Float32Array, out: Float32Array, rows: number): void {
    const l = this.own(layer);
    const { inDim, outDim } = l;
    if (!(Number.isInteger(rows) && rows >= 0)) throw new EdgestreamError('E_INPUT_SHAPE', `${l.name}: rows must be a non-negative integer, got ${rows}`);
    if (x.length < rows * inDim || out.length < rows * outDim) {
      throw new EdgestreamError('E_INPUT_SHAPE', `${l.name}: ${rows} rows need x of ${rows * inDim} and out of ${rows * outDim} values, got ${x.length} and ${out.length}`);
    }
    if (!this.heap.owns(x) || !this.heap.owns(out)) {
      throw new EdgestreamError('E_BACKEND', `${l.name}: matmul buffers must come from alloc() of this ${this.tier} kernel instance`);
    }
    if (rows === 0) return;
    const xp = x.byteOffset;
    const op = out.byteOffset;
    if (l.input === 'spikes') {
      const { idx, cnt, acc } = this.spikeScratch(rows, inDim);
      const active = this.k.spike_scan(xp, rows, inDim, idx, cnt);
      // −1: some input is not 0/1; the dense kernel is right for any values.
      if (active >= 0 && active <= SPARSE_MAX_DENSITY[l.int8 ? 'i8' : 'f32'] * rows * inDim) {
        if (l.int8) this.k.dense_i8_sparse(l.q, l.scale, l.bias, idx, cnt, op, rows, inDim, outDim, acc);
        else this.k.dense_f32_sparse(l.w, l.bias, idx, cnt, op, rows, inDim, outDim);
        return;
      }
    }
    if (l.int8) this.k.dense_i8(l.q, l.scale, l.bias, xp, op, rows, inDim, outDim);
    else this.k.dense_f32(l.w, l.bias, xp, op, rows, inDim, outDim);
  }

  free(layer: DenseLayer): void {
    const l = this.own(layer);
    l.freed = true;
    for (const p of [l.w, l.q, l.scale, l.bias]) if (p) this.heap.release(p);
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
    if (!this.heap.owns(a)) throw new EdgestreamError('E_BACKEND', `${op}: buffers must come from alloc() of this ${this.tier} kernel instance`);
    return a.byteOffset;
  }

  private own(layer: DenseLayer): WasmDense {
    const l = layer as Partial<WasmDense>;
    if (l.owner !== this) throw new EdgestreamError('E_BACKEND', `${layer.name}: this layer was prepared by another kernel instance`);
    if (l.freed) throw new EdgestreamError('E_BACKEND', `${layer.name}: this layer was freed`);
    return layer as WasmDense;
  }

  private spikeScratch(rows: number, inDim: number): { idx: number; cnt: number; acc: number } {
    const idxBytes = rows * inDim * 4;
    const need = idxBytes + rows * 4 + 64 + 256;
    if (need > this.scratch.bytes) {
      if (this.scratch.ptr) this.heap.release(this.scratch.ptr);
      this.scratch = { ptr: this.heap.alloc(need), bytes: need };
    }
    const idx = this.scratch.ptr;
    const cnt = idx + idxBytes;
    const acc = Math.ceil((cnt + rows * 4) / 64) * 64;
    return { idx, cnt, acc };
  }
}

export function createWasmKernels(tier: WasmTier): Promise<Kernels> {
  return WasmKernels.create(tier);
}
