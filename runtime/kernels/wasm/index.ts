import { EdgestreamError } from '../../errors.js';
import { checkDenseArgs } from '../js/index.js';
import type { StreamState } from '../../stream/state.js';
import type { DenseLayer, DenseOptions, Kernels } from '../types.js';
import { WasmHeap } from './heap.js';
import { instantiateKernels, type KernelExports, type WasmTier } from './module.js';
import { packF32, packI8, packI8Pairs, packRows, ROW_PAD } from './pack.js';

/**
 * float32 spike layers: a stream's step runs the event-driven kernel when at most this fraction
 * of its inputs are active, the dense kernel otherwise (the two cost the same at about 65 %,
 * batch 1 and 64, on the bench machine; see docs/kernels.md). int8 spike layers always take the
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
  /** float32 spike layers: the row layout of the event-driven kernel (w and bias 0 then). */
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
  /** Row tables (state addresses, source rows) and staged foreign membranes of the row ops. */
  private tables = { ptr: 0, bytes: 0 };
  private staging = { ptr: 0, bytes: 0 };
  /** Address of every view `alloc` handed out: the per-call check is one WeakMap lookup. */
  private readonly addresses = new WeakMap<Float32Array, number>();
  private readonly layers = new Set<WasmDense>();
  /** State buffers whose object was garbage collected without `release`: their memory is reused. */
  private readonly collected = new FinalizationRegistry<number>((ptr) => this.heap.release(ptr));
  private disposed = false;

  /** Outputs per float32 panel of this build (pack.ts packs for it). */
  private readonly panel: number;

  private constructor(
    readonly tier: WasmTier,
    private readonly heap: WasmHeap,
    private readonly k: KernelExports,
  ) {
    this.panel = k.panel_width();
  }

  static async create(tier: WasmTier): Promise<WasmKernels> {
    const memory = WasmHeap.createMemory();
    const k = await instantiateKernels(tier, memory);
    return new WasmKernels(tier, new WasmHeap(memory, k.heap_base()), k);
  }

  /** Bytes of WASM linear memory in use (weights, workspace, scratch). */
  get memoryBytes(): number {
    return this.heap.size;
  }

  /** Bytes of kernel memory held right now (weights, workspace, open streams' state). */
  get bytesInUse(): number {
    return this.heap.liveBytes;
  }

  alloc(length: number): Float32Array {
    if (this.disposed) throw new EdgestreamError('E_SESSION_STATE', 'the model using these kernels was disposed');
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
    if (base.input === 'spikes') {
      // One copy of the weights, in rows: the event-driven kernel sums the rows of active inputs,
      // the dense fallback reads 16-output columns of the same rows.
      const r = packRows(this.heap, w, b, outDim, inDim);
      const layer: WasmDense = { ...base, w: 0, q: 0, scale: 0, bias: 0, wt: r.wt, biasRows: r.bias, bytes: r.bytes };
      this.layers.add(layer);
      return layer;
    }
    const p = packF32(this.heap, w, b, outDim, inDim, this.panel);
    const layer: WasmDense = { ...base, w: p.w, q: 0, scale: 0, bias: p.bias, wt: 0, biasRows: 0, bytes: p.bytes };
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
      if (l.int8) this.k.matmul_i8_spikes(l.q, l.scale, l.bias, xp, idx, cnt, op, rows, inDim, outDim, acc);
      else this.k.matmul_f32_spikes(l.wt, l.biasRows, xp, idx, cnt, op, rows, inDim, outDim, acc, maxActive);
      const st = l.spikes;
      st.inputs += rows * inDim;
      st.active += active;
      st.rows += rows;
      const words = this.heap.words();
      for (let r = 0, c = cnt >> 2; r < rows; r++) if (words[c + r]! >= 0 && words[c + r]! <= maxActive) st.sparseRows++;
      return;
    }
    if (!l.int8) this.k.matmul_f32(l.w, l.bias, xp, op, rows, inDim, outDim);
    else {
      const qxBytes = Math.ceil((rows * Math.ceil(inDim / 2) * 4) / 64) * 64;
      const qx = this.scratchOf(qxBytes + rows * 4);
      this.k.quantizeActivations_i16(xp, rows, inDim, qx, qx + qxBytes);
      this.k.matmul_i8(l.q, l.scale, l.bias, qx, qx + qxBytes, op, rows, inDim, outDim);
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

  dispose(): void {
    if (this.disposed) return;
    for (const l of [...this.layers]) this.free(l);
    this.disposed = true;
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

  allocState(length: number): Float32Array {
    const view = this.alloc(length);
    this.collected.register(view, this.addresses.get(view)!, view);
    return view;
  }

  release(buffer: Float32Array): void {
    const p = this.addresses.get(buffer);
    if (p === undefined) return;
    this.addresses.delete(buffer);
    this.collected.unregister(buffer);
    this.heap.release(p);
  }

  lifState(x: Float32Array, states: readonly StreamState[], offset: number, rows: number, dim: number, threshold: number, scale: Float32Array | null, shift: Float32Array | null): void {
    const xp = this.ptr(x, rows * dim, 'lif');
    const sp = scale ? this.ptr(scale, dim, 'lif') : 0;
    const tp = shift ? this.ptr(shift, dim, 'lif') : 0;
    if ((sp === 0) !== (tp === 0)) throw new EdgestreamError('E_BACKEND', 'lif: scale and shift must be given together');
    const table = this.tableOf(rows);
    const foreign = this.stateTable(table, states, offset, dim, rows);
    const stage = foreign > 0 ? this.stageIn(table, states, offset, dim, rows, foreign) : 0;
    this.k.lifState_f32(xp, table, rows, dim, Math.fround(threshold), sp, tp);
    if (foreign > 0) this.stageOut(stage, states, offset, dim, rows);
  }

  convStep(q: Float32Array, states: readonly StreamState[], offset: number, dim: number, out: Float32Array, outRows: ArrayLike<number> | null, rows: number): void {
    if (rows === 0) return;
    const qp = this.ptr(q, rows * 3 * dim, 'convStep');
    let last = -1;
    if (outRows) {
      for (let r = 0; r < rows; r++) {
        const o = outRows[r]!;
        if (!(Number.isInteger(o) && o >= -1)) throw new EdgestreamError('E_INPUT_SHAPE', `convStep: output row ${o} is not a row index (or −1)`);
        if (o > last) last = o;
      }
    } else last = rows - 1;
    const op = this.ptr(out, (last + 1) * dim, 'convStep');
    const table = this.tableOf(2 * rows);
    const foreign = this.stateTable(table, states, offset, 2 * dim, rows);
    const rp = outRows ? this.rowTable(table + rows * 4, outRows, rows) : 0;
    const stage = foreign > 0 ? this.stageIn(table, states, offset, 2 * dim, rows, foreign) : 0;
    this.k.convStep_f32(qp, table, dim, op, rp, rows);
    if (foreign > 0) this.stageOut(stage, states, offset, 2 * dim, rows);
  }

  /** Rows whose state is not in this memory: copy their slot into staging and point the table there. */
  private stageIn(table: number, states: readonly StreamState[], offset: number, len: number, rows: number, foreign: number): number {
    const stage = this.stagingOf(foreign * len * 4);
    const words = this.heap.words();
    for (let r = 0, q = stage; r < rows; r++) {
      if (words[(table >> 2) + r]! >= 0) continue;
      this.heap.f32(q, len).set(states[r]!.f32.subarray(offset, offset + len));
      words[(table >> 2) + r] = q;
      q += len * 4;
    }
    return stage;
  }

  /** …and copy them back after the kernel ran. */
  private stageOut(stage: number, states: readonly StreamState[], offset: number, len: number, rows: number): void {
    for (let r = 0, q = stage; r < rows; r++) {
      if (this.addresses.has(states[r]!.f32)) continue;
      states[r]!.f32.set(this.heap.f32(q, len), offset);
      q += len * 4;
    }
  }

  gatherState(dst: Float32Array, dstOffset: number, dstStride: number, states: readonly StreamState[], offset: number, len: number, rows: number): void {
    if (rows === 0) return;
    const dp = this.ptr(dst, dstOffset + (rows - 1) * dstStride + len, 'gatherState') + dstOffset * 4;
    const table = this.tableOf(rows);
    const foreign = this.stateTable(table, states, offset, len, rows);
    this.k.gatherState_f32(dp, dstStride, table, len, rows);
    if (foreign > 0) {
      for (let r = 0; r < rows; r++) {
        if (!this.addresses.has(states[r]!.f32)) dst.set(states[r]!.f32.subarray(offset, offset + len), dstOffset + r * dstStride);
      }
    }
  }

  scatterState(src: Float32Array, srcOffset: number, srcStride: number, srcRows: ArrayLike<number> | null, states: readonly StreamState[], offset: number, len: number, rows: number): void {
    if (rows === 0) return;
    const sp = this.ptr(src, srcOffset + this.lastRow(srcRows, rows) * srcStride + len, 'scatterState') + srcOffset * 4;
    const table = this.tableOf(2 * rows);
    const foreign = this.stateTable(table, states, offset, len, rows);
    const rp = srcRows ? this.rowTable(table + rows * 4, srcRows, rows) : 0;
    this.k.scatterState_f32(sp, srcStride, rp, table, len, rows);
    if (foreign > 0) {
      for (let r = 0; r < rows; r++) {
        if (this.addresses.has(states[r]!.f32)) continue;
        const s = srcOffset + (srcRows ? srcRows[r]! : r) * srcStride;
        states[r]!.f32.set(src.subarray(s, s + len), offset);
      }
    }
  }

  copyRows(dst: Float32Array, dstOffset: number, dstStride: number, src: Float32Array, srcOffset: number, srcStride: number, srcRows: ArrayLike<number> | null, len: number, rows: number): void {
    if (rows === 0) return;
    const dp = this.ptr(dst, dstOffset + (rows - 1) * dstStride + len, 'copyRows') + dstOffset * 4;
    const sp = this.ptr(src, srcOffset + this.lastRow(srcRows, rows) * srcStride + len, 'copyRows') + srcOffset * 4;
    const rp = srcRows ? this.rowTable(this.tableOf(rows), srcRows, rows) : 0;
    this.k.copyRows_f32(dp, dstStride, sp, srcStride, rp, len, rows);
  }

  /**
   * Table entry r = address of `states[r].f32[offset]`, or −1 for a state not in this memory;
   * returns how many are not. Every state must hold `offset + len` values.
   */
  private stateTable(table: number, states: readonly StreamState[], offset: number, len: number, rows: number): number {
    const words = this.heap.words();
    const t = table >> 2;
    let foreign = 0;
    for (let r = 0; r < rows; r++) {
      const f32 = states[r]!.f32;
      if (f32.length < offset + len) throw new EdgestreamError('E_INPUT_SHAPE', `row ${r}: its stream state holds ${f32.length} values, the model needs ${offset + len}`);
      const p = this.addresses.get(f32);
      if (p === undefined) {
        words[t + r] = -1;
        foreign++;
      } else {
        words[t + r] = p + offset * 4;
      }
    }
    return foreign;
  }

  /** Writes `srcRows[0 … rows)` as i32 at `at`; returns `at`. */
  private rowTable(at: number, srcRows: ArrayLike<number>, rows: number): number {
    const words = this.heap.words();
    for (let r = 0, t = at >> 2; r < rows; r++) words[t + r] = srcRows[r]!;
    return at;
  }

  /** The largest source row a row op reads. */
  private lastRow(srcRows: ArrayLike<number> | null, rows: number): number {
    if (!srcRows) return rows - 1;
    let m = 0;
    for (let r = 0; r < rows; r++) {
      const s = srcRows[r]!;
      if (!(Number.isInteger(s) && s >= 0)) throw new EdgestreamError('E_INPUT_SHAPE', `row ops: source row ${s} is not a row index`);
      if (s > m) m = s;
    }
    return m;
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
    if (this.disposed) throw new EdgestreamError('E_SESSION_STATE', `${layer.name}: the model using these kernels was disposed`);
    const l = layer as WasmDense;
    if (l.owner !== this) throw new EdgestreamError('E_BACKEND', `${layer.name}: this layer was prepared by another kernel instance`);
    if (l.freed) throw new EdgestreamError('E_BACKEND', `${layer.name}: this layer was freed`);
    return l;
  }

  /** A scratch block of at least `bytes` (its contents are the caller's until the next call). */
  private scratchOf(bytes: number): number {
    return (this.scratch = this.grown(this.scratch, bytes)).ptr;
  }

  private tableOf(entries: number): number {
    return (this.tables = this.grown(this.tables, entries * 4)).ptr;
  }

  private stagingOf(bytes: number): number {
    return (this.staging = this.grown(this.staging, bytes)).ptr;
  }

  private grown(block: { ptr: number; bytes: number }, bytes: number): { ptr: number; bytes: number } {
    if (bytes <= block.bytes) return block;
    if (block.ptr) this.heap.release(block.ptr);
    return { ptr: this.heap.alloc(bytes), bytes };
  }

}

export function createWasmKernels(tier: WasmTier): Promise<Kernels> {
  return WasmKernels.create(tier);
}
