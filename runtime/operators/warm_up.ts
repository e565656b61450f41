import { Subject } from 'rxjs';
import type { Model } from '../model/model.js';
import { Random } from '../util/random.js';
import { keywordSpotting } from './keyword_spotting.js';
import type { AudioChunk } from './types.js';

/**
 * Stream `seconds` of synthetic s16le audio (noise and a tone, 20 ms chunks) through a throwaway
 * keyword-spotting pipeline, so that V8 has compiled the hot paths (PCM decoding, fbank, kernels,
 * decisions) before real devices arrive. Returns the milliseconds it took.
 */
export function warmUpKeywordSpotting(model: Model, seconds: number): number {
  const fe = model.frontend;
  if (!fe || seconds <= 0) return 0;
  const t0 = performance.now();
  const rate = fe.sampleRate;
  const chunk = Math.round(rate / 50);
  const rand = new Random(7);
  const input = new Subject<AudioChunk>();
  input.pipe(keywordSpotting(model, { emitScores: true })).subscribe({ error: () => undefined });
  for (let i = 0; i * chunk < seconds * rate; i++) {
    const pcm = new Int16Array(chunk);
    for (let j = 0; j < chunk; j++) pcm[j] = Math.round(3000 * (rand.next() - 0.5) + 6000 * Math.sin((2 * Math.PI * 440 * (i * chunk + j)) / rate));
    input.next({ device: 'warmup', kind: 'chunk', data: new Uint8Array(pcm.buffer), format: { encoding: 's16le', rate, channels: 1 }, seq: i });
  }
  input.complete();
  return performance.now() - t0;
}
