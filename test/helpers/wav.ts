import wavefile from 'wavefile';

/** A WAV file's bytes, written with the wavefile library. `bitDepth`: '8' | '16' | '24' | '32' | '32f' | '64'. */
export function makeWav(samples: Float32Array | Float64Array, rate: number, bitDepth: string, channels = 1): Uint8Array {
  const scaled = Array.from(samples, (v) => scale(v, bitDepth));
  const w = new wavefile.WaveFile();
  if (channels === 1) {
    w.fromScratch(1, rate, bitDepth, scaled);
  } else {
    // Channel 0 carries the signal; the others carry its negation (so taking the wrong one shows).
    const chans = Array.from({ length: channels }, (_, c) => (c === 0 ? scaled : scaled.map((v) => scale(-unscale(v, bitDepth), bitDepth))));
    w.fromScratch(channels, rate, bitDepth, chans);
  }
  return w.toBuffer();
}

function fullScale(bitDepth: string): number {
  return bitDepth === '8' ? 128 : bitDepth === '16' ? 32768 : bitDepth === '24' ? 8388608 : bitDepth === '32' ? 2147483648 : 1;
}

/** Float in [-1, 1] to the integer (or float) value stored, with clipping. */
function scale(v: number, bitDepth: string): number {
  const fs = fullScale(bitDepth);
  if (fs === 1) return v;
  const q = Math.max(-fs, Math.min(fs - 1, Math.round(v * fs)));
  return bitDepth === '8' ? q + 128 : q;
}

function unscale(q: number, bitDepth: string): number {
  const fs = fullScale(bitDepth);
  return bitDepth === '8' ? (q - 128) / fs : q / fs;
}

/** Deterministic uniform noise in [-1, 1). */
export function seededNoise(n: number, seed: number): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a / 2147483648 - 1;
  }
  return out;
}

export function tone(n: number, rate: number, hz: number, amplitude: number, phase = 0): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate + phase));
}
