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

/** int8 with per-row scales (the JS tier's `quantizeRows`, so both tiers hold the same numbers), panels of 64. */
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
