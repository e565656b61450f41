import type { Model } from '../model/model.js';
import { KeywordDetector, type KeywordEvent } from './keyword_detector.js';
import { resolveDecisionOptions, type DecisionOptions, type ResolvedDecisionOptions } from './options.js';
import { WindowedScorer } from './windowed_scorer.js';

/**
 * Continuous keyword spotting on a stream of feature frames: windowed scoring (one session whose
 * head averages over the last clip-length of frames) followed by the event detector. One instance
 * per audio stream.
 */
export class KeywordSpotter {
  readonly options: ResolvedDecisionOptions;
  private readonly scorer: WindowedScorer;
  private readonly detector: KeywordDetector;
  /** The latest scored frame (for score topics and live displays). */
  lastScores: Float32Array | null = null;

  constructor(readonly model: Model, options: DecisionOptions = {}) {
    this.options = resolveDecisionOptions(options, model);
    this.scorer = new WindowedScorer(model, {
      ...(this.options.windowFrames !== undefined && { windowFrames: this.options.windowFrames }),
      minFrames: this.options.minFrames,
    });
    const fe = model.frontend;
    this.detector = new KeywordDetector(model.labels, this.options, fe ? { shift: fe.frameShiftMs, length: fe.frameLengthMs } : undefined);
  }

  /** Push one normalised feature frame; returns the event it triggered, if any. */
  pushFrame(frame: ArrayLike<number>): KeywordEvent | null {
    const r = this.scorer.push(frame);
    if (!r) return null;
    this.lastScores = r.scores;
    return this.detector.push(r.frame, r.scores, r.span);
  }

  /** End of stream: decide on the frames still held back by the model's look-ahead. */
  flush(): KeywordEvent[] {
    const events: KeywordEvent[] = [];
    for (const r of this.scorer.flush()) {
      this.lastScores = r.scores;
      const e = this.detector.push(r.frame, r.scores, r.span);
      if (e) events.push(e);
    }
    return events;
  }

  /** See `KeywordDetector.setThreshold`: a number for every label, `null` for the configured ones. */
  setThreshold(threshold: number | null): void {
    this.detector.setThreshold(threshold);
  }

  reset(): void {
    this.scorer.reset();
    this.detector.reset();
    this.lastScores = null;
  }
}
