import { Observable, type OperatorFunction } from 'rxjs';
import { EngineWindowedScorer } from '../decisions/engine_windowed_scorer.js';
import { KeywordDetector } from '../decisions/keyword_detector.js';
import { resolveDecisionOptions, type DecisionOptions } from '../decisions/options.js';
import { WindowedScorer, windowSettings, type ScoredFrame } from '../decisions/windowed_scorer.js';
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

let serial = 0;

/**
 * Feature frames of one stream → keyword events (and, opt-in, per-frame scores): windowed scoring,
 * one session whose head averages over the last clip-length of frames (`WindowedScorer`, or
 * `EngineWindowedScorer` on a shared engine created with that `headWindow`), then
 * smoothing, thresholds, hysteresis and a refractory period (`KeywordDetector`). Events carry
 * stream times (`start_ms`/`end_ms`, offset by the frames' `originMs`), a stable id
 * (`<device>-<start_ms>`) and the `seq` of the chunk that completed the deciding frame.
 *
 * Scorer and detector are created per subscription and released on unsubscribe.
 *
 * @returns `{type: 'keyword', event}` per detection, `{type: 'scores', scores}` per scored frame if asked.
 */
export function spotKeywords(model: Model, options: SpotKeywordsOptions = {}): OperatorFunction<FeatureFrame, KeywordOutput> {
  const modelName = options.modelName ?? model.name;
  const modelVersion = options.modelVersion ?? model.modelVersion;
  const fe = model.frontend;
  const shiftMs = fe?.frameShiftMs ?? 10;
  const lengthMs = fe?.frameLengthMs ?? 25;
  const decision = resolveDecisionOptions(options.decision, model);
  const window = windowSettings(model, { ...(decision.windowFrames !== undefined && { windowFrames: decision.windowFrames }), minFrames: decision.minFrames });
  return (source) =>
    new Observable<KeywordOutput>((subscriber) => {
      const detector = new KeywordDetector(model.labels, decision, { shift: shiftMs, length: lengthMs });
      /** Index (in the segment) of the first frame since the scorer last started, and the warm-up end. */
      let baseIndex = 0;
      let suppressBeforeMs = options.warmupMs ?? 0;
      const thresholdSub = options.threshold$?.subscribe({
        next: (t) => detector.setThreshold(t),
        error: (e: unknown) => subscriber.error(e),
      });

      const onScored = (r: ScoredFrame, frame: FeatureFrame): void => {
        const scoredFrame = baseIndex + r.frame;
        if (options.emitScores) {
          subscriber.next({
            type: 'scores',
            scores: {
              device: frame.device,
              end_ms: frame.originMs + scoredFrame * shiftMs + lengthMs,
              scores: r.scores,
              labels: model.labels,
              ...(frame.receivedAt !== undefined && { receivedAt: frame.receivedAt }),
            },
          });
        }
        const e = detector.push(scoredFrame, r.scores, r.span);
        if (!e || e.end_ms < suppressBeforeMs) return;
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
      };

      const engine = options.engine;
      if (!engine) {
        const scorer = new WindowedScorer(model, window);
        let last: FeatureFrame | null = null;
        const sub = source.subscribe({
          next: (frame) => {
            last = frame;
            const r = scorer.push(frame.values);
            if (r) onScored(r, frame);
          },
          error: (e: unknown) => subscriber.error(e),
          complete: () => {
            // The frames held back by the model's look-ahead: decided with the last frame's metadata.
            if (last) for (const r of scorer.flush()) onScored(r, last);
            subscriber.complete();
          },
        });
        return () => {
          sub.unsubscribe();
          thresholdSub?.unsubscribe();
        };
      }

      // Frames go to the engine a few at a time (its queues are short); the rest wait here, in order.
      const maxInFlight = 24;
      const maxBacklog = options.maxBacklog ?? 200;
      const backlog: FeatureFrame[] = [];
      let ended = false;
      let closed = false;
      let feedQueued = false;
      const feed = (): void => {
        feedQueued = false;
        while (backlog.length > 0 && scorer.pending < maxInFlight) scorer.push(backlog[0]!.values, backlog.shift()!);
        if (ended && backlog.length === 0 && !closed) {
          closed = true;
          scorer.close().then(
            () => subscriber.complete(),
            (e: unknown) => subscriber.error(e),
          );
        }
      };
      const scorer = new EngineWindowedScorer<FeatureFrame>(
        engine,
        `kws${serial++}`,
        {
          ...window, delay: model.delay, maxPending: maxInFlight,
          onProgress: () => {
            if (!feedQueued) {
              feedQueued = true;
              queueMicrotask(feed);
            }
          },
        },
        onScored,
      );
      const offError = engine.onError((e) => subscriber.error(e));
      const sub = source.subscribe({
        next: (frame) => {
          if (backlog.length >= maxBacklog) {
            // The engine is this far behind: drop the backlog, restart the stream at this frame.
            options.onOverload?.(backlog.length);
            backlog.length = 0;
            scorer.reset();
            detector.reset();
            baseIndex = frame.index;
            suppressBeforeMs = baseIndex * shiftMs + (options.warmupMs || 1000);
          }
          backlog.push(frame);
          feed();
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          ended = true;
          feed();
        },
      });
      return () => {
        sub.unsubscribe();
        thresholdSub?.unsubscribe();
        offError();
        backlog.length = 0;
        void scorer.close();
      };
    });
}
