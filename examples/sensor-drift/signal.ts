/**
 * A synthetic vibration sensor: a resonance whose frequency and amplitude jump to a new regime
 * every 48–160 samples, on a baseline that drifts (temperature), plus noise. The same kind of
 * stream the model was trained on (train.py `make_signal`), from an independent seeded generator.
 */
export interface SensorSignal {
  values: Float64Array;
  /** Sample index where each regime starts. */
  regimeStarts: number[];
}

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sensorSignal(n: number, seed = 2024): SensorSignal {
  const rand = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const values = new Float64Array(n);
  const regimeStarts: number[] = [];
  let phase = 0;
  let base = gauss() * 0.5;
  let drift = gauss() * 0.004;
  for (let t = 0; t < n;) {
    const length = 48 + Math.floor(rand() * 112);
    const freq = 0.02 + 0.16 * rand();
    const amp = 0.4 + 1.1 * rand();
    regimeStarts.push(t);
    for (let i = t; i < Math.min(n, t + length); i++) {
      phase += 2 * Math.PI * freq;
      base += drift;
      values[i] = base + amp * Math.sin(phase) + 0.03 * gauss();
    }
    drift = gauss() * 0.004;
    t += length;
  }
  return { values, regimeStarts };
}
