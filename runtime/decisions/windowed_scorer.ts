import { EdgestreamError } from '../errors.js';
import type { Model } from '../model/model.js';
import type { Session } from '../stream/session.js';
import { sigmoid } from '../layers/activations.js';

/**
 * Scores for an unbounded stream from a model trained on fixed-length clips with a mean head.
 *
 * The LMUFormer head averages over everything since the stream began, so a long stream dilutes a
 * one-second keyword to nothing. The policy here reproduces the training condition instead:
 * `sessions` staggered sessions, each reset every `windowFrames` frames (the clip length), so at any
 * time one of them started at most windowFrames/sessions frames ago and the others cover longer
 * spans. A frame's score per label is the max over the sessions that have seen at least
 * `minFrames` frames since their reset (earlier means are too noisy).
 */
export interface ScoredFrame {
  /** Index of the input frame this score belongs to (outputs lag the input by the model's delay). */
  frame: number;
  /** Sigmoid scores per label (max over mature sessions). */
  scores: Float32Array;
  /** Frames since reset of the session that produced the best score of the best label. */
  span: number;
}

export class WindowedScorer {
  private readonly sessions: Session[];
  private readonly since: number[];
  private t = 0;
  private readonly minFrames: number;
  readonly windowFrames: number;

  constructor(private readonly model: Model, options: { windowFrames?: number; sessions?: number; minFrames?: number } = {}) {
    this.windowFrames = options.windowFrames ?? model.frontend?.clipFrames ?? 128;
    const k = options.sessions ?? 4;
    this.minFrames = options.minFrames ?? 40;
    if (this.minFrames >= this.windowFrames - model.delay) {
      throw new EdgestreamError('E_CONFIG', `minFrames (${this.minFrames}) must be below the window (${this.windowFrames}) minus the model delay (${model.delay})`);
    }
    this.sessions = Array.from({ length: k }, () => model.createSession());
    // Session j starts j·W/k frames "into" its window so that the resets are evenly staggered.
    this.since = Array.from({ length: k }, (_, j) => -Math.round((j * this.windowFrames) / k));
  }

  /** Push one feature frame; returns the scored frame that became ready, if any. */
  push(frame: ArrayLike<number>): ScoredFrame | null {
    const K = this.model.outputDim;
    let best: Float32Array | null = null;
    let bestSpan = 0;
    let bestMax = -1;
    for (let j = 0; j < this.sessions.length; j++) {
      const s = this.sessions[j]!;
      if (this.since[j]! >= this.windowFrames) {
        s.reset();
        this.since[j] = 0;
      }
      if (this.since[j]! < 0) {
        // Not started yet (stagger at stream start): this session's window begins later.
        this.since[j]!++;
        continue;
      }
      const outs = s.push(frame);
      this.since[j]!++;
      // The output belongs to frame (since − delay) of this session's window.
      const seen = this.since[j]! - this.model.delay;
      if (outs.length === 0 || seen < this.minFrames) continue;
      const logits = outs[0]!;
      if (!best) best = new Float32Array(K);
      let localMax = -1;
      for (let c = 0; c < K; c++) {
        const p = sigmoid(logits[c]!);
        if (p > best[c]!) best[c] = p;
        if (p > localMax) localMax = p;
      }
      if (localMax > bestMax) {
        bestMax = localMax;
        bestSpan = seen;
      }
    }
    const frameIndex = this.t - this.model.delay;
    this.t++;
    return best ? { frame: frameIndex, scores: best, span: bestSpan } : null;
  }

  reset(): void {
    const k = this.sessions.length;
    for (let j = 0; j < k; j++) {
      this.sessions[j]!.reset();
      this.since[j] = -Math.round((j * this.windowFrames) / k);
    }
    this.t = 0;
  }
}
