import { quantizeRows } from '../js/index.js';
import type { WasmHeap } from './heap.js';

/** Outputs per panel of the float32 layout (16 floats: one 64-byte cache line per input). */
export const F32_PANEL = 16;
/** Outputs per panel of the int8 layout (64 bytes: one cache line per input). */
export const I8_PANEL = 64;

export interface PackedF32 {
  w: number;
  bias: number;
  bytes: number;
}

export interface PackedI8 {
  q: number;
  scale: number;
  bias: number;
  bytes: number;
}

/**
 * `[outDim, inDim]` row-major → panels of 16 outputs, input-major inside a panel:
 * `packed[(p·inDim + i)·16 + j] = W[16p + j, i]` (zero padding past outDim). This is the
 * transposed (column-per-input) layout, blocked by 16 outputs: the dense kernels read a panel
 * front to back, the spike kernels read only the rows of active inputs.
 */
export function packF32(heap: WasmHeap, w: Float32Array, b: Float32Array | null, outDim: number, inDim: number): PackedF32 {
  const panels = Math.ceil(outDim / F32_PANEL);
  const wp = heap.alloc(panels * inDim * F32_PANEL * 4);
  const bp = heap.alloc(panels * F32_PANEL * 4);
  const dst = heap.f32(wp, panels * inDim * F32_PANEL);
  for (let o = 0; o < outDim; o++) {
    const base = Math.floor(o / F32_PANEL) * inDim * F32_PANEL + (o % F32_PANEL);
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) dst[base + i * F32_PANEL] = w[row + i]!;
  }
  if (b) heap.f32(bp, outDim).set(b);
  return { w: wp, bias: bp, bytes: (panels * inDim + panels) * F32_PANEL * 4 };
}

export interface PackedRows {
  wt: number;
  bias: number;
  bytes: number;
}

/** Rows per input, outputs padded to 16 (one 64-byte line), for the event-driven kernel. */
export const ROW_PAD = 16;

/**
 * The transposed layout `wt[i·outPad + o] = W[o, i]` (outPad = outDim rounded up to 16): the
 * weights of one input are one contiguous row, which the spike kernel adds for each active input.
 */
export function packRows(heap: WasmHeap, w: Float32Array, b: Float32Array | null, outDim: number, inDim: number): PackedRows {
  const outPad = Math.ceil(outDim / ROW_PAD) * ROW_PAD;
  const wp = heap.alloc(inDim * outPad * 4);
  const bp = heap.alloc(outPad * 4);
  const dst = heap.f32(wp, inDim * outPad);
  for (let o = 0; o < outDim; o++) {
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) dst[i * outPad + o] = w[row + i]!;
  }
  if (b) heap.f32(bp, outDim).set(b);
  return { wt: wp, bias: bp, bytes: (inDim + 1) * outPad * 4 };
}

/**
 * int8 with per-row scales (the JS tier's `quantizeRows`, so both tiers hold the same numbers),
 * for spike input: panels of 64 outputs, one 64-byte line per input.
 */
export function packI8(heap: WasmHeap, w: Float32Array, b: Float32Array | null, outDim: number, inDim: number): PackedI8 {
  const { q, scale } = quantizeRows(w, outDim, inDim);
  const panels = Math.ceil(outDim / I8_PANEL);
  const qp = heap.alloc(panels * inDim * I8_PANEL);
  const sp = heap.alloc(panels * I8_PANEL * 4);
  const bp = heap.alloc(panels * I8_PANEL * 4);
  const dst = heap.i8(qp, panels * inDim * I8_PANEL);
  for (let o = 0; o < outDim; o++) {
    const base = Math.floor(o / I8_PANEL) * inDim * I8_PANEL + (o % I8_PANEL);
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) dst[base + i * I8_PANEL] = q[row + i]!;
  }
  heap.f32(sp, outDim).set(scale);
  if (b) heap.f32(bp, outDim).set(b);
  return { q: qp, scale: sp, bias: bp, bytes: panels * inDim * I8_PANEL + 2 * panels * I8_PANEL * 4 };
}

/** Outputs per panel of the int8 layout for real input. */
export const I8Q_PANEL = 16;

/**
 * int8 for real input (the int8 × int16 dot-product kernel): panels of 16 outputs, inputs in
 * pairs, `q[((p·pairs + j)·16 + o)·2 + t] = Q[16p + o, 2j + t]` (zero padding).
 */
export function packI8Pairs(heap: WasmHeap, w: Float32Array, b: Float32Array | null, outDim: number, inDim: number): PackedI8 {
  const { q, scale } = quantizeRows(w, outDim, inDim);
  const panels = Math.ceil(outDim / I8Q_PANEL);
  const pairs = Math.ceil(inDim / 2);
  const bytes = panels * pairs * 2 * I8Q_PANEL;
  const qp = heap.alloc(bytes);
  const sp = heap.alloc(panels * I8Q_PANEL * 4);
  const bp = heap.alloc(panels * I8Q_PANEL * 4);
  const dst = heap.i8(qp, bytes);
  for (let o = 0; o < outDim; o++) {
    const p = Math.floor(o / I8Q_PANEL);
    const lane = o % I8Q_PANEL;
    for (let i = 0; i < inDim; i++) dst[((p * pairs + (i >> 1)) * I8Q_PANEL + lane) * 2 + (i & 1)] = q[o * inDim + i]!;
  }
  heap.f32(sp, outDim).set(scale);
  if (b) heap.f32(bp, outDim).set(b);
  return { q: qp, scale: sp, bias: bp, bytes: bytes + 2 * panels * I8Q_PANEL * 4 };
}
