import type { ResolvedDecisionOptions } from './options.js';
import { thresholdFor } from './options.js';

/**
 * Per-frame label scores → keyword events: moving-average smoothing, per-label thresholds,
 * hysteresis (a fired label re-arms only after dropping below threshold − hysteresis) and a global
 * refractory period. An event fires on the rising edge, so detection latency is the model delay plus
 * the smoothing, not the end of the word.
 */
export interface KeywordEvent {
  /** The keyword (HA `event` entities use `event_type`). */
  event_type: string;
  label: string;
  /** Smoothed score when the event fired. */
  score: number;
  threshold: number;
  /** Stream time of the audio the decision covers (ms since stream start). */
  start_ms: number;
  end_ms: number;
  /** Feature frame at which it fired. */
  frame: number;
}

/**
 * A fired label re-arms once its smoothed score drops below this: threshold − hysteresis, but never
 * more than half the threshold below it, so that a low threshold (0.1 with the default hysteresis
 * 0.1) still re-arms instead of waiting for a score below zero. At threshold 0 every frame passes and
 * only the refractory period spaces the events.
 */
export function rearmLevel(threshold: number, hysteresis: number): number {
  return threshold - Math.min(hysteresis, threshold / 2);
}

/** A decision waiting for its peak (`peakFrames` > 0): the best label so far and where it peaked. */
interface PendingDecision {
  until: number;
  label: number;
  score: number;
  frame: number;
  span: number;
  crossed: Set<number>;
}

export class KeywordDetector {
  private pending: PendingDecision | null = null;
  private readonly history: Float32Array; // ring [smoothFrames, labels]
  private readonly sums: Float64Array;
  private filled = 0; // frames in the ring so far (≤ smoothFrames)
  private pos = 0;
  private readonly armed: boolean[];
  private lastEventMs = -Infinity;
  private readonly eligible: boolean[];
  private thresholds: number[];

  constructor(
    private readonly labels: readonly string[],
    private readonly options: ResolvedDecisionOptions,
    /** Milliseconds per feature frame (hop) and per analysis window (frame length). */
    private readonly frameMs: { shift: number; length: number } = { shift: 10, length: 25 },
  ) {
    const K = labels.length;
    this.history = new Float32Array(options.smoothFrames * K);
    this.sums = new Float64Array(K);
    this.armed = labels.map(() => true);
    this.eligible = labels.map((l) => !options.ignore.includes(l));
    this.thresholds = labels.map((l) => thresholdFor(options, l));
  }

  /**
   * Feed the scores of one frame. `span` is how many frames of audio the score summarises
   * (the window the model has seen), used for `start_ms`.
   */
  push(frame: number, scores: ArrayLike<number>, span: number): KeywordEvent | null {
    const K = this.labels.length;
    const S = this.options.smoothFrames;
    const o = this.pos * K;
    for (let c = 0; c < K; c++) {
      const v = Number.isFinite(scores[c]) ? scores[c]! : 0;
      if (this.filled === S) this.sums[c] = this.sums[c]! - this.history[o + c]!;
      this.history[o + c] = v;
      this.sums[c] = this.sums[c]! + v;
    }
    this.pos = (this.pos + 1) % S;
    if (this.filled < S) this.filled++;

    const endMs = this.endMs(frame);
    let best = -1;
    let bestScore = 0;
    const pending = this.pending;
    for (let c = 0; c < K; c++) {
      const smooth = this.sums[c]! / S; // frames before the stream began count as 0: no start-up blips
      const th = this.thresholds[c]!;
      if (!this.armed[c] && (smooth < rearmLevel(th, this.options.hysteresis) || th <= 0)) this.armed[c] = true;
      if (this.eligible[c] && this.armed[c] && smooth >= th) {
        pending?.crossed.add(c);
        if (smooth > bestScore) {
          best = c;
          bestScore = smooth;
        }
      }
    }
    if (pending) {
      if (best >= 0 && bestScore > pending.score) Object.assign(pending, { label: best, score: bestScore, frame, span });
      return frame >= pending.until ? this.decide(frame) : null;
    }
    if (best < 0 || endMs - this.lastEventMs < this.options.refractoryMs) return null;
    this.pending = { until: frame + this.options.peakFrames, label: best, score: bestScore, frame, span, crossed: new Set([best]) };
    return this.options.peakFrames === 0 ? this.decide(frame) : null;
  }

  /** End of stream: a decision still waiting for its peak is made now. */
  flush(frame: number): KeywordEvent | null {
    return this.pending ? this.decide(frame) : null;
  }

  private endMs(frame: number): number {
    return frame * this.frameMs.shift + this.frameMs.length;
  }

  /** Report the pending decision's best label; every label that crossed meanwhile must re-arm first. */
  private decide(frame: number): KeywordEvent {
    const p = this.pending!;
    this.pending = null;
    for (const c of p.crossed) this.armed[c] = false;
    const endMs = this.endMs(p.frame);
    this.lastEventMs = this.endMs(frame);
    const label = this.labels[p.label]!;
    return {
      event_type: label,
      label,
      score: Math.round(p.score * 1e4) / 1e4,
      threshold: this.thresholds[p.label]!,
      start_ms: Math.max(0, endMs - p.span * this.frameMs.shift - this.frameMs.length),
      end_ms: endMs,
      frame,
    };
  }

  /**
   * Change thresholds on a running stream (e.g. an MQTT `threshold/set` command): a number applies
   * to every label, overriding per-label settings; `null` restores the configured ones.
   */
  setThreshold(threshold: number | null): void {
    this.thresholds = this.labels.map((l) => threshold ?? thresholdFor(this.options, l));
  }

  /** The threshold currently applied to a label. */
  thresholdOf(label: string): number | undefined {
    const i = this.labels.indexOf(label);
    return i < 0 ? undefined : this.thresholds[i];
  }

  reset(): void {
    this.history.fill(0);
    this.sums.fill(0);
    this.filled = 0;
    this.pos = 0;
    this.armed.fill(true);
    this.lastEventMs = -Infinity;
    this.pending = null;
  }
}
