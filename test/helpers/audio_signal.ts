import { Random } from '../../runtime/util/random.js';

/** Speech-like test audio: gliding harmonic bursts (400 ms syllables) over low noise, deterministic. */
export function testSignal(rate: number, seconds = 3, seed = 1): Float32Array {
  const rng = new Random(seed);
  const n = Math.round(rate * seconds);
  const x = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const burst = Math.sin(Math.PI * ((t * 2.5) % 1)) ** 2;
    const f0 = 140 + 60 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * f0) / rate;
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin(h * phase) / h;
    x[i] = 0.25 * burst * v + 0.01 * rng.normal();
  }
  return x;
}

/** Samples → interleaved s16le bytes (extra channels carry the inverted signal). */
export function s16le(x: Float32Array, channels = 1): Uint8Array {
  const out = new Uint8Array(x.length * 2 * channels);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-32768, Math.min(32767, Math.round(x[i]! * 32768)));
    for (let c = 0; c < channels; c++) view.setInt16((i * channels + c) * 2, c === 0 ? v : -v, true);
  }
  return out;
}

/** Samples → interleaved f32le bytes (extra channels hold a constant). */
export function f32le(x: Float32Array, channels = 1): Uint8Array {
  const out = new Uint8Array(x.length * 4 * channels);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) for (let c = 0; c < channels; c++) view.setFloat32((i * channels + c) * 4, c === 0 ? x[i]! : 0.5, true);
  return out;
}
