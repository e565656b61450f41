import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { readWavSamples } from '../../runtime/audio/wav_samples.js';
import { resampleBuffer } from '../../runtime/audio/resampler.js';
import { ROOT } from './paths.js';

/** Spoken-keyword clips for end-to-end tests: the shipped fixtures, else espeak-ng. */

export const KWS_FIXTURES = join(ROOT, 'test/fixtures/kws');

export interface Clip {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  rate: number;
  /** Where it came from (fixture path or "espeak-ng"). */
  source: string;
}

/** Decode a WAV file's first channel. */
export function readWav(path: string): Clip {
  return { ...readWavSamples(path), source: path };
}

/** Write mono 16-bit PCM. */
export function writeWav(path: string, samples: Float32Array, rate: number): void {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, rate, '16', Int16Array.from(samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32767)))));
  writeFileSync(path, wav.toBuffer());
}

/**
 * A clip of `label` spoken, at 16 kHz: the first shipped fixture `test/fixtures/kws/<label>__*.wav`
 * when the fixtures exist, else synthesised with espeak-ng into `dir` (null when neither is there).
 */
export function keywordClip(label: string, dir: string): Clip | null {
  if (existsSync(KWS_FIXTURES)) {
    const file = readdirSync(KWS_FIXTURES).filter((f) => f.startsWith(`${label}__`) && f.endsWith('.wav')).sort()[0];
    if (file) return to16k(readWav(join(KWS_FIXTURES, file)));
  }
  const out = join(dir, `${label}-espeak.wav`);
  const r = spawnSync('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', out, label], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return { ...to16k(readWav(out)), source: 'espeak-ng' };
}

/** `samples` with silence before and after. */
export function padded(clip: Clip, leadMs: number, tailMs: number): Clip {
  const lead = Math.round((leadMs / 1000) * clip.rate);
  const tail = Math.round((tailMs / 1000) * clip.rate);
  const samples = new Float32Array(lead + clip.samples.length + tail);
  samples.set(clip.samples, lead);
  return { ...clip, samples };
}

function to16k(clip: Clip): Clip {
  return { samples: resampleBuffer(clip.samples, clip.rate, 16000), rate: 16000, source: clip.source };
}
