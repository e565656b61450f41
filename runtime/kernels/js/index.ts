import { EdgestreamError } from '../../errors.js';
import { gelu, relu } from '../../layers/activations.js';
import { lifStep } from '../../layers/lif.js';
import type { DenseLayer, DenseOptions, Kernels } from '../types.js';

/**
 * The plain-JS reference tier: always available, and the oracle the WASM tiers are tested
 * against. Sums accumulate in float64 (JS numbers) and round once to float32 on store.
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

export function createJsKernels(): Kernels {
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
      const { outDim, inDim, w, q, scale, b } = layer as JsDense;
      for (let r = 0; r < rows; r++) {
        const xo = r * inDim;
        const oo = r * outDim;
        for (let o = 0; o < outDim; o++) {
          let acc = 0;
          const wo = o * inDim;
          if (w) {
            for (let i = 0; i < inDim; i++) acc += w[wo + i]! * x[xo + i]!;
          } else {
            for (let i = 0; i < inDim; i++) acc += q![wo + i]! * x[xo + i]!;
            acc *= scale![o]!;
          }
          out[oo + o] = b ? acc + b[o]! : acc;
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
