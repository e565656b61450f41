import { Observable, type OperatorFunction } from 'rxjs';
import { KeywordSpotter } from '../decisions/keyword_spotter.js';
import type { DecisionOptions } from '../decisions/options.js';
import type { Model } from '../model/model.js';
import type { DeviceKeywordEvent, FeatureFrame, KeywordOutput } from './types.js';

export interface SpotKeywordsOptions {
  /** Thresholds, smoothing, hysteresis, refractory period, windowing (see `DecisionOptionsSchema`). */
  decision?: DecisionOptions;
  /** Also emit `{type: 'scores'}` for every scored frame (rate-limit them downstream). Default false. */
  emitScores?: boolean;
  /**
   * No events whose audio ends less than this long after the segment's start (stream time, ms):
   * used after a gap, when the model restarts in the middle of whatever was being said. Default 0.
   */
  warmupMs?: number;
  /** Threshold overrides while running: a number for every label, `null` back to the configured ones. */
  threshold$?: Observable<number | null>;
  /** Name and version that events carry. Default: the model's. */
  modelName?: string;
  modelVersion?: string;
}

/**
 * Feature frames of one stream → keyword events (and, opt-in, per-frame scores): windowed scoring
 * with staggered sessions, then smoothing, thresholds, hysteresis and a refractory period
 * (`KeywordSpotter`). Events carry stream times (`start_ms`/`end_ms`, offset by the segment's
 * `originMs`), a stable `id` (`<device>-<start_ms>`) and the `seq` of the chunk that completed the
 * deciding frame.
 *
 * The spotter (its sessions) is created per subscription and dropped on unsubscribe.
 *
 * @returns `{type: 'keyword', event}` per detection, `{type: 'scores', scores}` per scored frame if asked.
 */
export function spotKeywords(model: Model, options: SpotKeywordsOptions = {}): OperatorFunction<FeatureFrame, KeywordOutput> {
  const modelName = options.modelName ?? model.name;
  const modelVersion = options.modelVersion ?? model.modelVersion;
  const warmupMs = options.warmupMs ?? 0;
  const fe = model.frontend;
  const shiftMs = fe?.frameShiftMs ?? 10;
  const lengthMs = fe?.frameLengthMs ?? 25;
  return (source) =>
    new Observable<KeywordOutput>((subscriber) => {
      const spotter = new KeywordSpotter(model, options.decision);
      const thresholdSub = options.threshold$?.subscribe({
        next: (t) => spotter.setThreshold(t),
        error: (e: unknown) => subscriber.error(e),
      });
      const sub = source.subscribe({
        next: (frame) => {
          const e = spotter.pushFrame(frame.values);
          if (options.emitScores && spotter.lastScores && frame.index >= model.delay) {
            const scoredFrame = frame.index - model.delay;
            subscriber.next({
              type: 'scores',
              scores: {
                device: frame.device,
                end_ms: frame.originMs + scoredFrame * shiftMs + lengthMs,
                scores: spotter.lastScores,
                labels: model.labels,
                ...(frame.receivedAt !== undefined && { receivedAt: frame.receivedAt }),
              },
            });
          }
          if (!e || e.end_ms < warmupMs) return;
          const start = Math.round(frame.originMs + e.start_ms);
          const event: DeviceKeywordEvent = {
            ...e,
            start_ms: start,
            end_ms: Math.round(frame.originMs + e.end_ms),
            device: frame.device,
            id: `${frame.device}-${start}`,
            ts: new Date().toISOString(),
            ...(frame.seq !== undefined && { seq: frame.seq }),
            model: modelName,
            model_version: modelVersion,
          };
          subscriber.next({ type: 'keyword', event, ...(frame.receivedAt !== undefined && { receivedAt: frame.receivedAt }) });
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      return () => {
        sub.unsubscribe();
        thresholdSub?.unsubscribe();
      };
    });
}
