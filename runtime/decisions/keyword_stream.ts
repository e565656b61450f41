import type { EngineStreamRouter } from '../engine/stream_router.js';
import type { Model } from '../model/model.js';
import { EngineWindowedScorer } from './engine_windowed_scorer.js';
import { KeywordDetector, type KeywordEvent } from './keyword_detector.js';
import { resolveDecisionOptions, type DecisionOptions, type ResolvedDecisionOptions } from './options.js';
import { WindowedScorer, windowSettings, type ScoredFrame } from './windowed_scorer.js';

/** Default of `warmupMs` everywhere a stream is spotted (library, CLI, service). */
export const DEFAULT_WARMUP_MS = 1000;

export interface KeywordStreamOptions {
  /** Thresholds, smoothing, hysteresis, refractory period, windowing (`DecisionOptionsSchema`). */
  decision?: DecisionOptions;
  /**
   * No events whose audio ends less than this long after the stream (re)started (stream time, ms):
   * in its first second the head has heard less than the window it was trained on and the
   * recurrent state is still filling, and most of what crosses a threshold there is false (docs/keyword-spotting.md,
   * "Start of a stream"). Default 1000; 0 keeps everything.
   */
  warmupMs?: number;
  /**
   * Step the model on a shared, batched `Engine` (through its router) instead of in this thread.
   * The same scores and events, delivered asynchronously; `end()` waits for the last ones.
   */
  engine?: EngineStreamRouter;
  /** Engine only: frames waiting for the engine before the backlog is dropped (then `restart`). Default 200. */
  maxBacklog?: number;
  /** Engine only: the backlog was dropped (the stream restarts, with a warm-up, at the next frame). */
  onOverload?: (droppedFrames: number) => void;
}

/** Where a keyword stream's results go. `tag` is what the caller pushed with the frame that completed the decision. */
export interface KeywordStreamSink<T> {
  /** A detection; times are stream times (ms since the stream's first frame). */
  event(event: KeywordEvent, tag: T): void;
  /** Every scored frame (`index`: its frame number in the stream). */
  scores?(scored: ScoredFrame, index: number, tag: T): void;
}

/**
 * Keyword spotting on one stream of feature frames: the one composition that `listen`, the
 * `spotKeywords`/`keywordSpotting` operators, the service, `KeywordSpotter` and the stream
 * evaluation all run. Windowed scoring (one session whose head averages the last clip-length of
 * frames, in this thread or on a shared engine) → event detector (smoothing, thresholds,
 * hysteresis, refractory period) → the start-of-stream warm-up.
 */
export class KeywordStream<T> {
  readonly decision: ResolvedDecisionOptions;
  readonly warmupMs: number;
  private readonly detector: KeywordDetector;
  private readonly shiftMs: number;
  private readonly local: WindowedScorer | null = null;
  private readonly remote: EngineWindowedScorer<T> | null = null;
  /** Stream index of the first frame since the scorer last (re)started, and the end of its warm-up (ms). */
  private baseIndex = 0;
  private suppressBeforeMs: number;
  private frames = 0;
  /** Stream index of the last scored frame. */
  private lastIndex = 0;
  private lastTag: T | undefined;
  private hasFrames = false;
  private readonly backlog: { frame: Float32Array; tag: T }[] = [];
  private ended = false;
  private closed = false;
  private endPromise: Promise<void> | null = null;
  private resolveEnd: (() => void) | null = null;
  private rejectEnd: ((e: unknown) => void) | null = null;
  private feedQueued = false;
  private static serial = 0;

  constructor(readonly model: Model, private readonly options: KeywordStreamOptions, private readonly sink: KeywordStreamSink<T>) {
    this.decision = resolveDecisionOptions(options.decision, model);
    this.warmupMs = options.warmupMs ?? DEFAULT_WARMUP_MS;
    this.suppressBeforeMs = this.warmupMs;
    const fe = model.frontend;
    this.shiftMs = fe?.frameShiftMs ?? 10;
    this.detector = new KeywordDetector(model.labels, this.decision, fe ? { shift: fe.frameShiftMs, length: fe.frameLengthMs } : undefined);
    const window = windowSettings(model, { ...(this.decision.windowFrames !== undefined && { windowFrames: this.decision.windowFrames }), minFrames: this.decision.minFrames });
    if (options.engine) {
      this.remote = new EngineWindowedScorer<T>(
        options.engine,
        `kws${KeywordStream.serial++}`,
        { ...window, delay: model.delay, maxPending: MAX_IN_FLIGHT, onProgress: () => this.queueFeed() },
        (r, tag) => this.scored(r, tag),
      );
    } else {
      this.local = new WindowedScorer(model, window);
    }
  }

  /** Push one normalised feature frame. Local: results reach the sink before this returns. */
  push(frame: Float32Array, tag: T): void {
    if (this.remote && this.backlog.length >= (this.options.maxBacklog ?? 200)) {
      // The engine is this far behind: drop the backlog, restart the stream at this frame.
      this.options.onOverload?.(this.backlog.length);
      this.restart();
    }
    this.frames++;
    this.lastTag = tag;
    this.hasFrames = true;
    if (this.local) {
      const r = this.local.push(frame);
      if (r) this.scored(r, tag);
      return;
    }
    this.backlog.push({ frame, tag });
    this.feed();
  }

  /**
   * Start over at the next frame (after lost audio, or an overload): fresh recurrent state and
   * detector, and a new warm-up. Frame numbers and stream times go on.
   */
  restart(): void {
    this.backlog.length = 0; // frames of the old segment not yet in the engine
    this.local?.reset();
    this.remote?.reset();
    this.detector.reset();
    this.baseIndex = this.frames;
    this.suppressBeforeMs = this.baseIndex * this.shiftMs + this.warmupMs;
  }

  /** Thresholds while running: a number for every label, `null` back to the configured ones. */
  setThreshold(threshold: number | null): void {
    this.detector.setThreshold(threshold);
  }

  /** End of stream: decide on the frames held back by the model's look-ahead. Resolves when the last result reached the sink. */
  end(): Promise<void> {
    if (this.endPromise) return this.endPromise;
    this.ended = true;
    if (this.local) {
      if (this.hasFrames) for (const r of this.local.flush()) this.scored(r, this.lastTag as T);
      this.flushDetector();
      this.endPromise = Promise.resolve();
      return this.endPromise;
    }
    this.endPromise = new Promise<void>((resolve, reject) => {
      this.resolveEnd = resolve;
      this.rejectEnd = reject;
    });
    this.feed();
    return this.endPromise;
  }

  /** Release the session (or the engine stream). Results after this are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog.length = 0;
    this.local?.close();
    void this.remote?.close();
  }

  /** A decision still waiting for its peak (`peakFrames`) is made at the end of the stream. */
  private flushDetector(): void {
    if (this.closed || !this.hasFrames) return;
    const e = this.detector.flush(this.lastIndex);
    if (e && e.end_ms >= this.suppressBeforeMs) this.sink.event(e, this.lastTag as T);
  }

  private scored(r: ScoredFrame, tag: T): void {
    if (this.closed) return;
    const index = this.baseIndex + r.frame;
    this.lastIndex = index;
    const scored = index === r.frame ? r : { ...r, frame: index };
    this.sink.scores?.(scored, index, tag);
    const e = this.detector.push(index, r.scores, r.span);
    if (e && e.end_ms >= this.suppressBeforeMs) this.sink.event(e, tag);
  }

  private queueFeed(): void {
    if (this.feedQueued) return;
    this.feedQueued = true;
    queueMicrotask(() => this.feed());
  }

  /** Engine: frames go a few at a time (its queues are short); the rest wait here, in order. */
  private feed(): void {
    this.feedQueued = false;
    const scorer = this.remote!;
    while (this.backlog.length > 0 && scorer.pending < MAX_IN_FLIGHT) {
      const next = this.backlog.shift()!;
      scorer.push(next.frame, next.tag);
    }
    if (this.ended && this.backlog.length === 0 && this.resolveEnd) {
      const resolve = this.resolveEnd;
      const reject = this.rejectEnd!;
      this.resolveEnd = null;
      scorer.close().then(() => {
        this.flushDetector();
        resolve();
      }, reject);
    }
  }
}

/** Frames one stream keeps queued in the engine (its `queueFrames` must be at least this). */
const MAX_IN_FLIGHT = 24;
