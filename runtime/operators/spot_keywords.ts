import { Observable, type OperatorFunction } from 'rxjs';
import { KeywordStream } from '../decisions/keyword_stream.js';
import type { DecisionOptions } from '../decisions/options.js';
import type { ScoredFrame } from '../decisions/windowed_scorer.js';
import type { EngineStreamRouter } from '../engine/stream_router.js';
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
  /**
   * Step the model through a shared, batched `Engine` (via its router) instead of in this thread.
   * Outputs are the same; events arrive asynchronously and completion waits for the last scores.
   */
  engine?: EngineStreamRouter;
  /**
   * Engine only: frames waiting for the engine (beyond the few in flight) before the backlog is
   * dropped. Default 200 (2 s of audio at 100 frames/s).
   */
  maxBacklog?: number;
  /**
   * Engine only: called with the number of frames dropped when the engine fell `maxBacklog` frames
   * behind. The stream restarts (fresh state, warm-up) with the next frame.
   */
  onOverload?: (droppedFrames: number) => void;
}

/**
 * Feature frames of one stream → keyword events (and, opt-in, per-frame scores) through
 * `KeywordStream`, the one keyword-spotting composition (windowed scoring in this thread or on a
 * shared engine, the event detector, the start-of-stream warm-up). Events carry stream times
 * (`start_ms`/`end_ms`, offset by the frames' `originMs`), a stable id (`<device>-<start_ms>`) and
 * the `seq` of the chunk that completed the deciding frame.
 *
 * The stream is created per subscription and released on unsubscribe.
 *
 * @returns `{type: 'keyword', event}` per detection, `{type: 'scores', scores}` per scored frame if asked.
 */
export function spotKeywords(model: Model, options: SpotKeywordsOptions = {}): OperatorFunction<FeatureFrame, KeywordOutput> {
  const modelName = options.modelName ?? model.name;
  const modelVersion = options.modelVersion ?? model.modelVersion;
  const fe = model.frontend;
  const shiftMs = fe?.frameShiftMs ?? 10;
  const lengthMs = fe?.frameLengthMs ?? 25;
  return (source) =>
    new Observable<KeywordOutput>((subscriber) => {
      const stream = new KeywordStream<FeatureFrame>(model, {
        ...(options.decision !== undefined && { decision: options.decision }),
        warmupMs: options.warmupMs ?? 0,
        ...(options.engine !== undefined && { engine: options.engine }),
        ...(options.maxBacklog !== undefined && { maxBacklog: options.maxBacklog }),
        ...(options.onOverload !== undefined && { onOverload: options.onOverload }),
      }, {
        event: (e, frame) => {
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
        ...(options.emitScores && {
          scores: (r: ScoredFrame, index: number, frame: FeatureFrame) => subscriber.next({
            type: 'scores',
            scores: {
              device: frame.device,
              end_ms: frame.originMs + index * shiftMs + lengthMs,
              scores: r.scores,
              labels: model.labels,
              ...(frame.receivedAt !== undefined && { receivedAt: frame.receivedAt }),
            },
          }),
        }),
      });
      const thresholdSub = options.threshold$?.subscribe({
        next: (t) => stream.setThreshold(t),
        error: (e: unknown) => subscriber.error(e),
      });
      const offError = options.engine?.onError((e) => subscriber.error(e));
      const sub = source.subscribe({
        next: (frame) => stream.push(frame.values, frame),
        error: (e: unknown) => subscriber.error(e),
        complete: () => stream.end().then(() => subscriber.complete(), (e: unknown) => subscriber.error(e)),
      });
      return () => {
        sub.unsubscribe();
        thresholdSub?.unsubscribe();
        offError?.();
        stream.close();
      };
    });
}
