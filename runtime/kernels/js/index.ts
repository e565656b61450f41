import { EdgestreamError } from '../../errors.js';
import { gelu, relu } from '../../layers/activations.js';
import { lifStep } from '../../layers/lif.js';
import type { DenseLayer, DenseOptions, Kernels } from '../types.js';

/**
 * The plain-JS reference tier: always available, and the oracle the WASM tiers are tested
 * against. Sums accumulate in float64 (JS numbers) and round once to float32 on store.
 *
 * int8 layers (opt-in) hold `quantizeRows` weights and compute, per input row:
 *  - real input: dynamic quantisation of the row to int16 (`quantizeActivations`), then
 *    `scale[o]·s_x·Σ q·qx + b`, the sum an exact integer (the standard int8 × int16 scheme;
 *    activation rounding is 1/32766 of the row's range, far below the weights' 1/254);
 *  - spike input: `scale[o]·Σ q·x + b`, exact for 0/1 spikes.
 */
interface JsDense extends DenseLayer {
  /** float32 weights `[outDim, inDim]`, or null when int8. */
  readonly w: Float32Array | null;
  /** int8 weights `[outDim, inDim]` with per-row scales, when int8. */
  readonly q: Int8Array | null;
  readonly scale: Float32Array | null;
  readonly b: Float32Array | null;
}

/** Per-row symmetric int8 quantisation: `w[o, i] ≈ scale[o] · q[o, i]`. */
export function quantizeRows(w: Float32Array, outDim: number, inDim: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(outDim * inDim);
  const scale = new Float32Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let max = 0;
    for (let i = 0; i < inDim; i++) max = Math.max(max, Math.abs(w[o * inDim + i]!));
    const s = max > 0 ? max / 127 : 1;
    scale[o] = s;
    for (let i = 0; i < inDim; i++) q[o * inDim + i] = Math.max(-127, Math.min(127, Math.round(w[o * inDim + i]! / s)));
  }
  return { q, scale };
}

export function checkDenseArgs(w: Float32Array, b: Float32Array | null, outDim: number, inDim: number, name: string): void {
  if (!(outDim > 0 && inDim > 0 && Number.isInteger(outDim) && Number.isInteger(inDim))) {
    throw new EdgestreamError('E_ARCH_MISMATCH', `${name}: dense layer dims must be positive integers, got ${outDim}×${inDim}`);
  }
  if (w.length !== outDim * inDim) {
    throw new EdgestreamError('E_ARCH_MISMATCH', `${name}: weight has ${w.length} values, expected ${outDim}×${inDim}`);
  }
  if (b && b.length !== outDim) throw new EdgestreamError('E_ARCH_MISMATCH', `${name}: bias has ${b.length} values, expected ${outDim}`);
}

/** Largest magnitude of an int16-quantised activation (127·16383·1024 < 2^31: exact int32 sums). */
export const QX_MAX = 16383;

/**
 * Per-row dynamic quantisation of int8 layers' real-valued inputs, rounded exactly as the WASM
 * kernel does in float32: `inv = 16383/max|x|`, `qx[i] = roundHalfEven(fround(x[i]·inv))`.
 * Writes `qx` (inDim values) and returns the dequantisation factor `max|x|/16383` (float32).
 */
export function quantizeActivations(x: Float32Array, offset: number, inDim: number, qx: Float64Array): number {
  let maxabs = 0;
  for (let i = 0; i < inDim; i++) {
    const a = Math.abs(x[offset + i]!);
    maxabs = a > maxabs || Number.isNaN(a) ? a : maxabs;
  }
  const inv = maxabs > 0 ? Math.fround(QX_MAX / maxabs) : 0;
  for (let i = 0; i < inDim; i++) qx[i] = roundHalfEven(Math.fround(x[offset + i]! * inv));
  return Math.fround(maxabs / QX_MAX);
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

export function createJsKernels(): Kernels {
  let qx = new Float64Array(0);
  return {
    tier: 'js',
    alloc: (length) => new Float32Array(length),
    dense(w, b, outDim, inDim, options: DenseOptions = {}): DenseLayer {
      const name = options.name ?? 'dense';
      checkDenseArgs(w, b, outDim, inDim, name);
      const int8 = options.int8 === true;
      const quant = int8 ? quantizeRows(w, outDim, inDim) : null;
      const layer: JsDense = {
        name, outDim, inDim, input: options.input ?? 'real', int8,
        w: int8 ? null : Float32Array.from(w),
        q: quant?.q ?? null,
        scale: quant?.scale ?? null,
        b: b ? Float32Array.from(b) : null,
        bytes: int8 ? outDim * inDim + outDim * 4 : outDim * inDim * 4 + (b ? outDim * 4 : 0),
      };
      return layer;
    },
    matmul(layer, x, out, rows) {
      const { outDim, inDim, w, q, scale, b, input } = layer as JsDense;
      for (let r = 0; r < rows; r++) {
        const xo = r * inDim;
        const oo = r * outDim;
        if (w) {
          for (let o = 0; o < outDim; o++) {
            let acc = 0;
            const wo = o * inDim;
            for (let i = 0; i < inDim; i++) acc += w[wo + i]! * x[xo + i]!;
            out[oo + o] = b ? acc + b[o]! : acc;
          }
        } else if (input === 'spikes') {
          // Weight-only: scale·Σ q·x (an exact integer sum for 0/1 spikes).
          for (let o = 0; o < outDim; o++) {
            let acc = 0;
            const wo = o * inDim;
            for (let i = 0; i < inDim; i++) acc += q![wo + i]! * x[xo + i]!;
            acc *= scale![o]!;
            out[oo + o] = b ? acc + b[o]! : acc;
          }
        } else {
          // Dynamic quantisation: the row as int16 (quantizeActivations), an exact integer sum.
          if (qx.length < inDim) qx = new Float64Array(inDim);
          const sx = quantizeActivations(x, xo, inDim, qx);
          for (let o = 0; o < outDim; o++) {
            let acc = 0;
            const wo = o * inDim;
            for (let i = 0; i < inDim; i++) acc += q![wo + i]! * qx[i]!;
            acc = acc * scale![o]! * sx;
            out[oo + o] = b ? acc + b[o]! : acc;
          }
        }
      }
    },
    free() { /* garbage collected */ },
    relu,
    gelu,
    add(dst, src, count) {
      for (let i = 0; i < count; i++) dst[i] = dst[i]! + src[i]!;
    },
    affine(x, rows, dim, scale, shift) {
      for (let r = 0; r < rows; r++) {
        const o = r * dim;
        for (let c = 0; c < dim; c++) x[o + c] = x[o + c]! * scale[c]! + shift[c]!;
      }
    },
    lif: lifStep,
  };
}
