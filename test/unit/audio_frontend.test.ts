import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAudioFrontend, type AudioInput, type AudioFrontend } from '../../runtime/audio/audio_frontend.js';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { FLOAT32_EPS, KaldiFbank } from '../../runtime/audio/kaldi_fbank.js';
import { kaldiMelBanks } from '../../runtime/audio/mel_banks.js';
import { melByBin } from '../../runtime/audio/mel_by_bin.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { LMUFORMER_FRONTEND, type FrontendSettings } from '../../runtime/model/frontend_settings.js';
import { makeWav, seededNoise, tone } from '../helpers/wav.js';
import { randomChunks, s16le } from '../helpers/wav_bytes.js';

const L = LMUFORMER_FRONTEND;
const speechish = Float32Array.from(tone(16000, 16000, 220, 0.3), (v, i) => v * (1 + Math.sin(i / 900)) + 0.05 * seededNoise(1, i + 1)[0]!);

function run(fe: AudioFrontend, chunks: AudioInput[]): Float32Array[] {
  const frames: Float32Array[] = [];
  for (const c of chunks) frames.push(...fe.push(c));
  frames.push(...fe.flush());
  return frames;
}

const maxDiff = (a: Float32Array[], b: Float32Array[]): number => {
  assert.equal(a.length, b.length, 'frame counts');
  let m = 0;
  a.forEach((f, t) => f.forEach((v, j) => { m = Math.max(m, Math.abs(v - b[t]![j]!)); }));
  return m;
};

describe('Kaldi fbank, incremental', () => {
  it('emits 1 + ⌊(N − 400)/160⌋ frames for N ≥ 400 samples (snip_edges), none before', () => {
    for (const n of [0, 1, 399, 400, 559, 560, 16000]) {
      const expected = n < 400 ? 0 : 1 + Math.floor((n - 400) / 160);
      assert.equal(new KaldiFbank(L).push(speechish.subarray(0, n)).length, expected, `${n} samples`);
    }
  });

  it('gives bit-identical frames for any chunking of the samples', () => {
    const oneShot = new KaldiFbank(L).push(speechish);
    for (const [seed, max] of [[1, 1], [2, 50], [3, 161], [4, 3000], [5, 9000]] as const) {
      const fb = new KaldiFbank(L);
      const frames = randomChunks(speechish, seed, max).flatMap((c) => fb.push(c));
      assert.deepEqual(frames, oneShot, `chunks ≤ ${max}`);
    }
  });

  it('filterbanks of the same settings (which share their scratch space) do not disturb each other', () => {
    const other = Float32Array.from(tone(24000, 16000, 440, 0.3));
    const alone = [new KaldiFbank(L).push(speechish), new KaldiFbank(L).push(other)];
    const a = new KaldiFbank(L);
    const b = new KaldiFbank(L);
    const got: Float32Array[][] = [[], []];
    for (let o = 0; o < Math.max(speechish.length, other.length); o += 320) {
      got[0]!.push(...a.push(speechish.subarray(o, o + 320)));
      got[1]!.push(...b.push(other.subarray(o, o + 320)));
    }
    assert.deepEqual(got, alone);
  });

  it('normalises as (x − mean) / (2·std)', () => {
    const raw = new KaldiFbank(L).push(speechish);
    const norm = new KaldiFbank(L, { normalize: true }).push(speechish);
    const { mean, std } = L.normalize!;
    const expected = raw.map((f) => f.map((v) => (v - mean) / (2 * std)));
    assert.ok(maxDiff(norm, expected) <= 1e-6);
  });

  it('silence floors every bin at log(float32 eps); extreme input stays finite', () => {
    const silent = new KaldiFbank(L).push(new Float32Array(4000));
    assert.equal(silent.length, 23);
    for (const f of silent) for (const v of f) assert.equal(v, Math.fround(Math.log(FLOAT32_EPS)));
    const extremes = [
      Float32Array.from(speechish, (v) => Math.sign(v) * 1), // hard clipping
      Float32Array.from(speechish, (v) => v * 1e30), // absurdly loud float audio
      Float32Array.from(speechish, (v) => 0.9 + v * 1e-6), // DC offset with a whisper on top
      Float32Array.from({ length: 16000 }, (_, i) => (i % 2 ? 1 : -1)), // Nyquist square wave
    ];
    for (const x of extremes) for (const f of new KaldiFbank(L).push(x)) assert.ok(f.every(Number.isFinite));
  });

  it('follows the settings: mel count, energy column, frame geometry', () => {
    const s: FrontendSettings = { ...L, melBins: 40, useEnergy: true, frameLengthMs: 32, frameShiftMs: 20 };
    const fb = new KaldiFbank(s);
    assert.deepEqual(fb.geometry, { windowSize: 512, windowShift: 320, fftSize: 512, numFeatures: 41 });
    const frames = fb.push(speechish);
    assert.equal(frames.length, 1 + Math.floor((16000 - 512) / 320));
    assert.ok(frames.every((f) => f.length === 41 && f.every(Number.isFinite)));
  });

  it('rejects settings that do not make a filterbank (E_CONFIG)', () => {
    const bad: Partial<FrontendSettings>[] = [
      { melBins: 0 }, { sampleRate: 16000.5 }, { frameLengthMs: 0.05 }, { highFreq: 9000 }, { lowFreq: 8000 },
      { window: 'kaiser' as never }, { preemphasis: 2 },
    ];
    for (const b of bad) assert.throws(() => new KaldiFbank({ ...L, ...b }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG'), JSON.stringify(b));
    assert.throws(() => new KaldiFbank({ ...L, normalize: null }, { normalize: true }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG'));
  });
});

describe('mel filters laid out by FFT bin', () => {
  it('give every filter the same sum as a loop over its row, bit for bit', () => {
    // Narrow low filters (some catching no bin), wide ones, a band-limited bank, one filter.
    const banks: [number, number, number, number, number][] = [
      [128, 512, 16000, 20, 0], [200, 512, 16000, 20, 0], [40, 256, 8000, 0, 0], [80, 1024, 22050, 60, -400], [1, 512, 16000, 300, 3000],
    ];
    for (const [bins, fftSize, rate, low, high] of banks) {
      const mel = kaldiMelBanks(bins, fftSize, rate, low, high);
      const byBin = melByBin(mel);
      const power = Float64Array.from(seededNoise(mel.numFftBins, bins), (v) => (v * 1e3) ** 2);
      const acc = new Float64Array(bins + 1);
      for (let k = byBin.binStart; k < byBin.binEnd; k++) {
        acc[byBin.lower[k]!] += byBin.lowerWeight[k]! * power[k]!;
        acc[byBin.upper[k]!] += byBin.upperWeight[k]! * power[k]!;
      }
      for (let b = 0; b < bins; b++) {
        let e = 0;
        for (let k = mel.start[b]!; k < mel.end[b]!; k++) e += mel.weights[b * mel.numFftBins + k]! * power[k]!;
        assert.equal(acc[b], e, `${bins} mels, ${fftSize}-point FFT at ${rate} Hz: filter ${b}`);
      }
    }
  });
});

describe('createAudioFrontend', () => {
  const wav16 = makeWav(speechish, 16000, '16');
  const speech48 = Float32Array.from(tone(48000, 48000, 220, 0.3), (v, i) => v * (1 + Math.sin(i / 2700)));
  const wav48 = makeWav(speech48, 48000, '16');

  it('emits normalised model-ready frames by default, raw log-mel on request', () => {
    const fe = createAudioFrontend(L);
    assert.equal(fe.normalized, true);
    assert.equal(fe.featureSize, 128);
    const norm = run(fe, [speechish]);
    const raw = run(createAudioFrontend(L, { normalize: false }), [speechish]);
    assert.ok(maxDiff(norm, raw.map((f) => f.map((v) => (v - L.normalize!.mean) / (2 * L.normalize!.std)))) <= 1e-6);
  });

  for (const [name, wav, rate] of [['16 kHz WAV', wav16, 16000], ['48 kHz WAV (resampled)', wav48, 48000]] as const) {
    it(`${name}: bytes in any chunking give bit-identical frames to one shot`, () => {
      const oneShot = computeFeatures(wav, L);
      assert.equal(oneShot.inputRate, rate);
      assert.ok(oneShot.frames >= 95);
      const asFrames = Array.from({ length: oneShot.frames }, (_, t) => oneShot.data.subarray(t * 128, (t + 1) * 128));
      for (const [seed, max] of [[1, 3], [2, 333], [3, 4096], [4, 40000]] as const) {
        const fe = createAudioFrontend(L);
        assert.deepEqual(run(fe, randomChunks(wav, seed, max)), asFrames, `chunks ≤ ${max} bytes`);
        assert.equal(fe.inputRate, rate);
      }
    });
  }

  it('a 48 kHz stream gives the frames of the same audio at 16 kHz (within resampling error)', () => {
    const at48 = computeFeatures(makeWav(Float32Array.from(tone(48000, 48000, 220, 0.3), (v, i) => v * (1 + Math.sin(i / 2700))), 48000, '32f'), L, { normalize: false });
    const pure16 = computeFeatures(Float32Array.from(tone(16000, 16000, 220, 0.3), (v, i) => v * (1 + Math.sin(i / 900))), L, { normalize: false });
    assert.equal(at48.frames, pure16.frames);
    // Compare the mel bins carrying the tone and its neighbourhood (well above the floor).
    let worst = 0;
    for (let t = 2; t < at48.frames - 2; t++) {
      for (let j = 0; j < 128; j++) {
        const ref = pure16.data[t * 128 + j]!;
        if (ref > -6) worst = Math.max(worst, Math.abs(at48.data[t * 128 + j]! - ref));
      }
    }
    assert.ok(worst <= 1e-3, `48 kHz vs 16 kHz frames differ by ${worst}`);
  });

  it('accepts Int16Array samples and raw s16le bytes like float samples', () => {
    const ints = Int16Array.from(speechish, (v) => Math.round(v * 32767));
    const floats = Float32Array.from(ints, (v) => v / 32768);
    const expected = run(createAudioFrontend(L), [floats]);
    assert.deepEqual(run(createAudioFrontend(L), [ints]), expected);
    const bytes = new Uint8Array(ints.buffer);
    assert.deepEqual(run(createAudioFrontend(L, { format: 's16le', inputRate: 16000 }), randomChunks(bytes, 9, 77)), expected);
  });

  it('resamples raw PCM at the given rate', () => {
    const bytes = s16le(speech48);
    const fromBytes = run(createAudioFrontend(L, { format: 's16le', inputRate: 48000 }), randomChunks(bytes, 3, 999));
    const fromWav = run(createAudioFrontend(L), [wav48]);
    assert.deepEqual(fromBytes, fromWav);
  });

  it('drops a chunk holding NaN/Infinity with E_NONFINITE_INPUT and keeps the stream going', () => {
    const fe = createAudioFrontend(L);
    const a = speechish.subarray(0, 8000);
    const b = speechish.subarray(8000);
    const frames = fe.push(a);
    const bad = Float32Array.from(b.subarray(0, 100));
    bad[37] = Number.NaN;
    assert.throws(() => fe.push(bad), (e: unknown) => isEdgestreamError(e, 'E_NONFINITE_INPUT'));
    assert.throws(() => fe.push(Float32Array.of(Number.POSITIVE_INFINITY)), (e: unknown) => isEdgestreamError(e, 'E_NONFINITE_INPUT'));
    frames.push(...fe.push(b), ...fe.flush());
    assert.deepEqual(frames, run(createAudioFrontend(L), [speechish]));
  });

  it('flush ends the stream; reset starts a new one with identical results', () => {
    const fe = createAudioFrontend(L, { inputRate: 44100 });
    const x = Float32Array.from(tone(44100, 44100, 300, 0.4));
    const first = run(fe, [x]);
    assert.equal(fe.framesEmitted, first.length);
    assert.throws(() => fe.push(x), (e: unknown) => isEdgestreamError(e, 'E_SESSION_STATE'));
    assert.deepEqual(fe.flush(), []);
    fe.reset();
    assert.equal(fe.framesEmitted, 0);
    assert.deepEqual(run(fe, [x]), first);
  });

  it('process() hands out frames without copying; the counts agree with push()', () => {
    const fe = createAudioFrontend(L);
    let n = 0;
    let last: Float32Array | null = null;
    fe.process(speechish, (f) => { n++; if (last) assert.equal(f, last); last = f; });
    assert.equal(n, createAudioFrontend(L).push(speechish).length);
  });

  it('rejects inconsistent or unusable input with clear errors', () => {
    assert.throws(() => createAudioFrontend(L, { inputRate: 16000 }).push(wav48), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT') && /48000 Hz/.test((e as Error).message));
    const fe = createAudioFrontend(L);
    fe.push(speechish.subarray(0, 1000));
    assert.throws(() => fe.push(wav48), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
    assert.throws(() => createAudioFrontend(L).push([0.1, 0.2] as unknown as Float32Array), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
    assert.throws(() => createAudioFrontend(L).push(new Uint8Array([1, 2, 3, 4, 5])), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
    assert.throws(() => createAudioFrontend(L, { inputRate: 0 }), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
    assert.throws(() => createAudioFrontend(L, { format: 'pcm' as never }), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
  });

  it('serves models with other front ends (8 kHz, 40 mels) from 16 kHz audio', () => {
    const s8k: FrontendSettings = { ...L, sampleRate: 8000, melBins: 40 };
    const frames = run(createAudioFrontend(s8k, { inputRate: 16000 }), [speechish]);
    assert.equal(frames.length, 1 + Math.floor((8000 - 200) / 80));
    assert.ok(frames.every((f) => f.length === 40 && f.every(Number.isFinite)));
  });
});
