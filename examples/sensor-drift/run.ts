/**
 * Online forecasting of a drifting sensor with a TTT-Linear stream model.
 *
 *   npx tsx examples/sensor-drift/run.ts [--samples 3000] [--seed 2024] [--out examples/sensor-drift/out]
 *
 * One sample in per push, the next sample's forecast out. The same model file runs twice: with
 * its fast weights learning at test time (the TTT inner loop), and frozen at their trained
 * initial values. A persistence forecast (next = last) is the naive baseline.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineChartSvg, loadModel, withRuntimeOptions } from 'edgestream';
import { sensorSignal } from './signal.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const MODEL_PATH = join(HERE, 'model.safetensors');

export interface SensorDriftOptions {
  samples?: number;
  seed?: number;
  /** Where to write forecast.svg and error.svg (none if omitted). */
  outDir?: string;
  modelPath?: string;
}

export interface SensorDriftResult {
  samples: number;
  regimes: number;
  /** Mean squared one-step forecast error (samples after the first 16). */
  mseAdaptive: number;
  mseFrozen: number;
  msePersistence: number;
  /** Same, over the first 32 samples after each regime change (how fast it recovers). */
  mseAdaptiveAfterChange: number;
  mseFrozenAfterChange: number;
  svgPath: string | null;
}

async function forecast(bytes: Uint8Array, values: Float64Array): Promise<Float64Array> {
  const model = await loadModel(bytes);
  const session = model.createSession();
  const pred = new Float64Array(values.length);
  for (let t = 0; t < values.length; t++) pred[t] = session.push([values[t]!])[0]![0]!;
  return pred; // pred[t] forecasts values[t + 1]
}

export async function runSensorDrift(options: SensorDriftOptions = {}): Promise<SensorDriftResult> {
  const samples = options.samples ?? 3000;
  const { values, regimeStarts } = sensorSignal(samples, options.seed ?? 2024);
  const bytes = readFileSync(options.modelPath ?? MODEL_PATH);
  const adaptive = await forecast(bytes, values);
  const frozen = await forecast(withRuntimeOptions(bytes, { fast_weight_updates: false }), values);

  const afterChange = new Uint8Array(samples);
  for (const s of regimeStarts) for (let i = s; i < Math.min(samples, s + 32); i++) afterChange[i] = 1;
  const acc = { a: 0, f: 0, p: 0, n: 0, ac: 0, fc: 0, nc: 0 };
  const errA = new Float64Array(samples - 1);
  const errF = new Float64Array(samples - 1);
  for (let t = 0; t < samples - 1; t++) {
    const target = values[t + 1]!;
    errA[t] = (adaptive[t]! - target) ** 2;
    errF[t] = (frozen[t]! - target) ** 2;
    if (t < 16) continue;
    acc.a += errA[t]!; acc.f += errF[t]!; acc.p += (values[t]! - target) ** 2; acc.n++;
    if (afterChange[t + 1]) { acc.ac += errA[t]!; acc.fc += errF[t]!; acc.nc++; }
  }

  let svgPath: string | null = null;
  if (options.outDir) {
    mkdirSync(options.outDir, { recursive: true });
    const rolling = (e: Float64Array): Float64Array => {
      const out = new Float64Array(e.length);
      let s = 0;
      for (let i = 0; i < e.length; i++) { s += e[i]!; if (i >= 50) s -= e[i - 50]!; out[i] = Math.sqrt(s / Math.min(i + 1, 50)); }
      return out;
    };
    const view = Math.min(samples, 1200);
    const points = (v: ArrayLike<number>, offset = 0): [number, number][] => Array.from({ length: Math.min(view - offset, v.length) }, (_, i) => [i + offset, v[i]!]);
    writeFileSync(join(options.outDir, 'forecast.svg'), lineChartSvg({
      title: `Sensor and one-step forecasts (first ${view} samples; ${regimeStarts.filter((s) => s < view).length} regimes)`,
      xLabel: 'sample', yLabel: 'sensor value',
      width: 1100, height: 420,
      series: [
        { name: 'sensor', color: '#222', points: points(values) },
        { name: 'TTT learning', color: '#d62728', points: points(adaptive, 1) },
        { name: 'frozen', color: '#1f77b4', points: points(frozen, 1) },
      ],
    }));
    svgPath = join(options.outDir, 'error.svg');
    writeFileSync(svgPath, lineChartSvg({
      title: 'Rolling RMS one-step forecast error (50 samples)',
      xLabel: 'sample', yLabel: 'RMS error', width: 1100, height: 380,
      series: [
        { name: 'TTT learning', color: '#d62728', points: points(rolling(errA)) },
        { name: 'frozen', color: '#1f77b4', points: points(rolling(errF)) },
      ],
    }));
  }
  return {
    samples, regimes: regimeStarts.length,
    mseAdaptive: acc.a / acc.n, mseFrozen: acc.f / acc.n, msePersistence: acc.p / acc.n,
    mseAdaptiveAfterChange: acc.ac / acc.nc, mseFrozenAfterChange: acc.fc / acc.nc,
    svgPath,
  };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  const arg = (name: string): string | undefined => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1] : undefined; };
  const r = await runSensorDrift({
    samples: Number(arg('samples') ?? 3000), seed: Number(arg('seed') ?? 2024), outDir: arg('out') ?? join(HERE, 'out'),
  });
  const f = (x: number): string => x.toFixed(4);
  process.stdout.write(`sensor-drift: ${r.samples} samples, ${r.regimes} regimes\n`);
  process.stdout.write(`one-step MSE   TTT learning ${f(r.mseAdaptive)}   frozen ${f(r.mseFrozen)}   persistence ${f(r.msePersistence)}\n`);
  process.stdout.write(`after changes  TTT learning ${f(r.mseAdaptiveAfterChange)}   frozen ${f(r.mseFrozenAfterChange)}   (first 32 samples of each regime)\n`);
  process.stdout.write(`plots: ${r.svgPath} and forecast.svg beside it\n`);
}
