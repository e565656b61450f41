import type { FrontendSettings } from '../model/frontend_settings.js';

/** Kaldi's blackman coefficient (torchaudio's default `blackman_coeff`). */
const BLACKMAN_COEFF = 0.42;

/**
 * The analysis window of Kaldi's feature extraction (torchaudio `_feature_window_function`),
 * all symmetric (periodic=False): hanning 0.5 − 0.5·cos(2πn/(N−1)), hamming 0.54 − 0.46·cos(…),
 * povey = hanning^0.85, rectangular, blackman. Kept in float64: closer to the exact transform than
 * torch's float32 copy (measured on the golden vectors).
 */
export function featureWindow(type: FrontendSettings['window'], size: number): Float64Array {
  const w = new Float64Array(size);
  const a = (2 * Math.PI) / (size - 1);
  for (let n = 0; n < size; n++) {
    let v: number;
    switch (type) {
      case 'hanning': v = 0.5 - 0.5 * Math.cos(a * n); break;
      case 'hamming': v = 0.54 - 0.46 * Math.cos(a * n); break;
      case 'povey': v = (0.5 - 0.5 * Math.cos(a * n)) ** 0.85; break;
      case 'rectangular': v = 1; break;
      case 'blackman': v = BLACKMAN_COEFF - 0.5 * Math.cos(a * n) + (0.5 - BLACKMAN_COEFF) * Math.cos(2 * a * n); break;
    }
    w[n] = size === 1 ? 1 : v;
  }
  return w;
}
