import { EdgestreamError } from '../errors.js';

const f32 = Math.fround;

/** HTK mel scale, 1127·ln(1 + f/700). */
export function melScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

/**
 * Triangular mel filters as Kaldi/torchaudio build them (`get_mel_banks`, no VTLN warping):
 * `numBins` filters equally spaced on the mel scale between lowFreq and highFreq, evaluated at
 * the FFT bin centres 0 … fftSize/2 − 1 (the Nyquist bin gets weight 0).
 *
 * torchaudio does this arithmetic in float32; we repeat it operation by operation in float32
 * (Math.fround) so that every weight, and in particular which bins are exactly zero, is the
 * same. That matters: a narrow low filter that catches no FFT bin gives energy 0 and log(eps).
 */
export interface MelBanks {
  numBins: number;
  /** FFT bins per filter row: fftSize/2 + 1. */
  numFftBins: number;
  /** Dense weights [numBins, numFftBins], row-major. */
  weights: Float32Array;
  /** Per filter, the first and one-past-last FFT bin with a non-zero weight (start = end if none). */
  start: Int32Array;
  end: Int32Array;
}

export function kaldiMelBanks(numBins: number, fftSize: number, sampleRate: number, lowFreq: number, highFreq: number): MelBanks {
  const numFftBins = fftSize / 2;
  const nyquist = 0.5 * sampleRate;
  const high = highFreq <= 0 ? highFreq + nyquist : highFreq;
  if (!(lowFreq >= 0 && lowFreq < nyquist && high > 0 && high <= nyquist && lowFreq < high)) {
    throw new EdgestreamError('E_CONFIG', `mel filter range ${lowFreq}–${high} Hz must satisfy 0 ≤ low < high ≤ Nyquist (${nyquist} Hz)`, { lowFreq, highFreq });
  }
  const fftBinWidth = sampleRate / fftSize;
  // Python floats (double) in torchaudio: the mel edges and the spacing.
  const melLow = melScale(lowFreq);
  const melHigh = melScale(high);
  const melDelta = (melHigh - melLow) / (numBins + 1);
  // Tensors (float32) from here on.
  const melLowF = f32(melLow);
  const melDeltaF = f32(melDelta);
  const melOfBin = new Float32Array(numFftBins);
  for (let k = 0; k < numFftBins; k++) {
    const hz = f32(f32(fftBinWidth) * k);
    melOfBin[k] = f32(1127 * f32(Math.log(f32(1 + f32(hz / 700)))));
  }
  const weights = new Float32Array(numBins * (numFftBins + 1));
  const start = new Int32Array(numBins);
  const end = new Int32Array(numBins);
  for (let b = 0; b < numBins; b++) {
    const left = f32(melLowF + f32(b * melDeltaF));
    const center = f32(melLowF + f32((b + 1) * melDeltaF));
    const right = f32(melLowF + f32((b + 2) * melDeltaF));
    const upDen = f32(center - left);
    const downDen = f32(right - center);
    let first = -1;
    let last = -1;
    for (let k = 0; k < numFftBins; k++) {
      const mel = melOfBin[k]!;
      const up = f32(f32(mel - left) / upDen);
      const down = f32(f32(right - mel) / downDen);
      const w = Math.max(0, Math.min(up, down));
      weights[b * (numFftBins + 1) + k] = w;
      if (w > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    start[b] = first < 0 ? 0 : first;
    end[b] = first < 0 ? 0 : last + 1;
  }
  return { numBins, numFftBins: numFftBins + 1, weights, start, end };
}
