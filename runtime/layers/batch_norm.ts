/**
 * Eval-mode BatchNorm1d as a per-channel affine map, and its folding into a preceding dense layer:
 * `BN(y) = (y − mean)/sqrt(var + eps)·γ + β = scale·y + shift`.
 */
export interface BatchNormParams {
  weight: Float32Array;
  bias: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps?: number;
}

export interface Affine {
  scale: Float32Array;
  shift: Float32Array;
}

export function batchNormAffine(bn: BatchNormParams): Affine {
  const eps = bn.eps ?? 1e-5;
  const n = bn.weight.length;
  const scale = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = bn.weight[i]! / Math.sqrt(bn.runningVar[i]! + eps);
    scale[i] = s;
    shift[i] = bn.bias[i]! - bn.runningMean[i]! * s;
  }
  return { scale, shift };
}

/** Fold `affine(W x + b)` into `W' x + b'` (W is `[out, in]`, b may be null). */
export function foldAffine(w: Float32Array, b: Float32Array | null, outDim: number, affine: Affine): { w: Float32Array; b: Float32Array } {
  const inDim = w.length / outDim;
  const w2 = new Float32Array(w.length);
  const b2 = new Float32Array(outDim);
  for (let o = 0; o < outDim; o++) {
    const s = affine.scale[o]!;
    for (let i = 0; i < inDim; i++) w2[o * inDim + i] = w[o * inDim + i]! * s;
    b2[o] = (b ? b[o]! * s : 0) + affine.shift[o]!;
  }
  return { w: w2, b: b2 };
}
