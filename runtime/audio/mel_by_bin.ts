import type { MelBanks } from './mel_banks.js';

/**
 * The mel filters laid out by FFT bin instead of by filter, for the per-frame loop: bin k adds
 * lowerWeight[k] × its power to filter lower[k] and upperWeight[k] × its power to filter
 * upper[k]. Index `numBins` stands for "no filter": a spare slot that is never read.
 *
 * Kaldi's triangles overlap only their neighbours (filter b rises from the centre of b − 1 and
 * falls to the centre of b + 1, zero at both), so no bin has a non-zero weight in more than two
 * filters, and one pass over the bins with two multiply-adds replaces a short loop per filter.
 * Each filter gets exactly the terms that the loop over its non-zero run gave, in the same order.
 */
export interface MelByBin {
  lower: Int32Array;
  lowerWeight: Float64Array;
  upper: Int32Array;
  upperWeight: Float64Array;
  /** The FFT bins any filter uses: [binStart, binEnd) (empty when no filter catches a bin). */
  binStart: number;
  binEnd: number;
}

export function melByBin(mel: Readonly<MelBanks>): MelByBin {
  const { numBins, numFftBins, weights, start, end } = mel;
  const none = numBins;
  const lower = new Int32Array(numFftBins).fill(none);
  const upper = new Int32Array(numFftBins).fill(none);
  // float32 weights held as float64 (exact), so the per-frame products need no conversion.
  const lowerWeight = new Float64Array(numFftBins);
  const upperWeight = new Float64Array(numFftBins);
  let binStart = numFftBins;
  let binEnd = 0;
  for (let b = 0; b < numBins; b++) {
    for (let k = start[b]!; k < end[b]!; k++) {
      const w = weights[b * numFftBins + k]!;
      if (lower[k] === none) {
        lower[k] = b;
        lowerWeight[k] = w;
      } else if (upper[k] === none) {
        upper[k] = b;
        upperWeight[k] = w;
      } else {
        throw new Error(`mel filters ${lower[k]}, ${upper[k]} and ${b} all weigh FFT bin ${k}; triangles overlap only in pairs`);
      }
      binStart = Math.min(binStart, k);
      binEnd = Math.max(binEnd, k + 1);
    }
  }
  return { lower, lowerWeight, upper, upperWeight, binStart: Math.min(binStart, binEnd), binEnd };
}
