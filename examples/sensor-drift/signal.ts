import { SeededRandom } from './seeded_random.js';

/**
 * A synthetic vibration sensor: a resonance whose frequency and amplitude jump to a new regime
 * every 48–160 samples, on a baseline that drifts (temperature) and slowly reverts to its mean,
 * plus noise. The same kind of
 * stream the model was trained on (train.py `make_signal`), from an independent seeded generator.
 */
export interface SensorSignal {
  values: Float64Array;
  /** Sample index where each regime starts. */
  regimeStarts: number[];
}

export function sensorSignal(n: number, seed = 2024): SensorSignal {
  const rng = new SeededRandom(seed);
  const rand = (): number => rng.next();
  const gauss = (): number => rng.normal();
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
      base += drift - 0.01 * base; // drifts, but mean-reverts into the range the model was trained on
      values[i] = base + amp * Math.sin(phase) + 0.03 * gauss();
    }
    drift = gauss() * 0.004;
    t += length;
  }
  return { values, regimeStarts };
}
