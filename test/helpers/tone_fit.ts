/**
 * Least-squares fit of a·cos + b·sin at a known frequency over y[from, to): the amplitude and
 * the RMS of what is left (noise, aliases, distortion). Used to measure resampler quality.
 */
export function fitTone(y: ArrayLike<number>, rate: number, hz: number, from: number, to: number): { amplitude: number; phase: number; residualRms: number } {
  let cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
  const w = (2 * Math.PI * hz) / rate;
  for (let i = from; i < to; i++) {
    const c = Math.cos(w * i);
    const s = Math.sin(w * i);
    cc += c * c; ss += s * s; cs += c * s; yc += y[i]! * c; ys += y[i]! * s;
  }
  const det = cc * ss - cs * cs;
  const a = (yc * ss - ys * cs) / det;
  const b = (ys * cc - yc * cs) / det;
  let res = 0;
  for (let i = from; i < to; i++) {
    const e = y[i]! - a * Math.cos(w * i) - b * Math.sin(w * i);
    res += e * e;
  }
  return { amplitude: Math.hypot(a, b), phase: Math.atan2(a, b), residualRms: Math.sqrt(res / (to - from)) };
}

export function rms(y: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += y[i]! * y[i]!;
  return Math.sqrt(s / (to - from));
}

export const dB = (ratio: number): number => 20 * Math.log10(ratio);
