/**
 * Windowed-sinc low-pass design (Kaiser window), the prototype filter of the resampler.
 * Kaiser's formulas give the window shape β and the length for a stopband attenuation A (dB)
 * and a transition width (J. F. Kaiser, "Nonrecursive digital filter design using the I0-sinh
 * window function", 1974; also Oppenheim & Schafer §7.6).
 */

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
export function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser's β for a stopband attenuation of `attenuationDb`. */
export function kaiserBeta(attenuationDb: number): number {
  if (attenuationDb > 50) return 0.1102 * (attenuationDb - 8.7);
  if (attenuationDb >= 21) return 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
  return 0;
}

/**
 * Half-length (in samples) of a Kaiser-windowed sinc reaching `attenuationDb` over a transition
 * band `transition` wide, given as a fraction of the sample rate.
 */
export function kaiserHalfLength(attenuationDb: number, transition: number): number {
  return (attenuationDb - 7.95) / (2.285 * 2 * Math.PI * transition) / 2;
}

export function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}
