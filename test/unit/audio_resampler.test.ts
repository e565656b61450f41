import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Resampler } from '../../runtime/audio/resampler.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { dB, fitTone, rms } from '../helpers/tone_fit.js';
import { seededNoise } from '../helpers/wav.js';
import { randomChunks } from '../helpers/wav_bytes.js';

const OUT = 16000;
const AMP = 0.5;

function resampleAll(r: Resampler, x: Float32Array, chunks?: Float32Array[]): Float32Array {
  const parts = (chunks ?? [x]).map((c) => r.push(c));
  parts.push(r.flush());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function tone(rate: number, hz: number, seconds = 1): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => AMP * Math.sin((2 * Math.PI * hz * i) / rate + 0.3));
}

/** Output of a 1 s tone, measured away from the edges. */
function measure(inRate: number, hz: number): { gainDb: number; residualDb: number; outRmsDb: number } {
  const y = resampleAll(new Resampler(inRate, OUT), tone(inRate, hz));
  const edge = 800;
  const fit = fitTone(y, OUT, hz, edge, y.length - edge);
  const ref = AMP / Math.SQRT2;
  return { gainDb: dB(fit.amplitude / AMP), residualDb: dB(fit.residualRms / ref), outRmsDb: dB(rms(y, edge, y.length - edge) / ref) };
}

describe('Resampler quality (tones)', () => {
  // 37999 Hz has no small ratio to 16 kHz: it exercises the interpolated phase table.
  for (const inRate of [48000, 44100, 22050, 37999]) {
    it(`${inRate} Hz → 16 kHz: flat to 7.6 kHz (±0.001 dB), clean (≤ −100 dB residual), aliases ≥ 100 dB down`, (t) => {
      const figures: string[] = [];
      for (const hz of [100, 1000, 3000, 5000, 7000, 7600]) {
        const m = measure(inRate, hz);
        figures.push(`${hz} Hz ${m.gainDb.toFixed(5)} dB (residual ${m.residualDb.toFixed(1)} dB)`);
        assert.ok(Math.abs(m.gainDb) <= 0.001, `${hz} Hz: passband gain ${m.gainDb} dB`);
        assert.ok(m.residualDb <= -100, `${hz} Hz: residual ${m.residualDb} dB`);
      }
      for (const hz of [8000, 8500, 10000, 15000, 0.49 * inRate].filter((f) => f < inRate / 2)) {
        const m = measure(inRate, hz);
        figures.push(`${hz} Hz ${m.outRmsDb.toFixed(1)} dB`);
        assert.ok(m.outRmsDb <= -100, `${hz} Hz: stopband leaks at ${m.outRmsDb} dB`);
      }
      t.diagnostic(`${inRate} Hz: ${figures.join('; ')}`);
    });
  }

  it('8 kHz → 16 kHz: flat passband and images ≥ 100 dB down', () => {
    for (const hz of [200, 1000, 3000, 3800]) {
      const m = measure(8000, hz);
      assert.ok(Math.abs(m.gainDb) <= 0.001, `${hz} Hz: gain ${m.gainDb} dB`);
      assert.ok(m.residualDb <= -100, `${hz} Hz: images/residual at ${m.residualDb} dB`);
    }
  });
});

describe('Resampler streaming behaviour', () => {
  const noise = Float32Array.from(seededNoise(48_000 + 77, 5), (v) => 0.5 * v);

  for (const [inRate, outRate] of [[48000, 16000], [44100, 16000], [37999, 16000], [8000, 16000], [16000, 44100]] as const) {
    it(`${inRate} → ${outRate}: any chunking gives bit-identical output, ceil(N·L/M) samples`, () => {
      const oneShot = resampleAll(new Resampler(inRate, outRate), noise);
      assert.equal(oneShot.length, Math.ceil((noise.length * outRate) / inRate));
      for (const [seed, max] of [[1, 1], [2, 7], [3, 160], [4, 5000], [5, 20000]] as const) {
        const got = resampleAll(new Resampler(inRate, outRate), noise, randomChunks(noise, seed, max));
        assert.deepEqual(got, oneShot, `chunks ≤ ${max}`);
      }
    });
  }

  it('has zero phase delay: an impulse at input time t comes out at output time t', () => {
    const x = new Float32Array(48000);
    x[24000] = 1;
    const y = resampleAll(new Resampler(48000, 16000), x);
    let peak = 0;
    for (let i = 1; i < y.length; i++) if (Math.abs(y[i]!) > Math.abs(y[peak]!)) peak = i;
    assert.equal(peak, 8000);
  });

  it('passes same-rate audio through unchanged', () => {
    const r = new Resampler(16000, 16000);
    assert.equal(r.latency, 0);
    assert.deepEqual(resampleAll(r, noise), noise);
  });

  it('reset() starts over; push after flush is a session error', () => {
    const r = new Resampler(44100, 16000);
    const first = resampleAll(r, noise);
    assert.throws(() => r.push(noise), (e: unknown) => isEdgestreamError(e, 'E_SESSION_STATE'));
    r.reset();
    assert.deepEqual(resampleAll(r, noise), first);
  });

  it('rejects rates that are not positive integers, and ratios needing absurd filters', () => {
    for (const [a, b] of [[0, 16000], [16000, -1], [44100.5, 16000], [Number.NaN, 16000]]) {
      assert.throws(() => new Resampler(a!, b!), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'), `${a} → ${b}`);
    }
    assert.throws(() => new Resampler(768000, 10), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
  });
});
