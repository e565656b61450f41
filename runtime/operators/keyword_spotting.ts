import { pipe, type OperatorFunction } from 'rxjs';
import { EdgestreamError } from '../errors.js';
import type { Model } from '../model/model.js';
import { audioFeatures } from './audio_features.js';
import { decodePcm } from './decode_pcm.js';
import { resampleAudio } from './resample_audio.js';
import { segmented } from './segmented.js';
import { sequenceGuard } from './sequence_guard.js';
import { spotKeywords, type SpotKeywordsOptions } from './spot_keywords.js';
import type { AudioChunk, KeywordOutput } from './types.js';

export interface KeywordSpottingOptions extends Omit<SpotKeywordsOptions, 'warmupMs'> {
  /**
   * After the stream starts or restarts (a `start` marker, lost audio), no events for this long
   * (ms of stream time). Default 1000.
   */
  warmupMs?: number;
  /** A chunk holding NaN/Inf (`E_NONFINITE_INPUT`) is skipped and reported here; without it the error ends the stream. */
  onInvalidAudio?: (error: EdgestreamError, chunk: AudioChunk) => void;
}

/**
 * One device's audio chunks → keyword events: `sequenceGuard` → `decodePcm` → `resampleAudio` →
 * `audioFeatures` → `spotKeywords`, restarted with fresh state at every discontinuity (a `start`
 * marker, a `seq` gap or timestamp jump, a chunk marked `gap` e.g. by `boundedBuffer`) and ended
 * by a `stop` marker. After every (re)start, detections are held back for `warmupMs` while the
 * model hears enough audio: in the first second its head averages over a fraction of the window it
 * was trained on, and most of what crosses a threshold there is false (on speech where the demo
 * model finds no keyword, 36 of the 47 detections in 100 looped 30 s streams at its stored
 * threshold fell in the first second: docs/keyword-spotting.md, "Start of a stream").
 *
 * ```ts
 * chunks$.pipe(keywordSpotting(model, { decision: { threshold: 0.7 } }))
 * ```
 * @returns keyword events (and scores when `emitScores`).
 */
export function keywordSpotting(model: Model, options: KeywordSpottingOptions = {}): OperatorFunction<AudioChunk, KeywordOutput> {
  const fe = model.frontend;
  if (!fe) throw new EdgestreamError('E_CONFIG', `model ${model.name} has no audio front end settings; keyword spotting needs a model trained on audio features`);
  const warmupMs = options.warmupMs ?? 1000;
  return pipe(
    // Stream times for senders without timestamps, and gaps from seq numbers (idempotent if already applied).
    sequenceGuard(),
    segmented<AudioChunk, KeywordOutput>(
      { startsSegment: (c) => c.kind === 'start' || c.gap === true, endsSegment: (c) => c.kind === 'stop' },
      (chunks) => chunks.pipe(decodePcm(options.onInvalidAudio ? { onInvalid: options.onInvalidAudio } : {}), resampleAudio(fe.sampleRate), audioFeatures(fe), spotKeywords(model, { ...options, warmupMs })),
    ),
  );
}
