import type { EngineStreamRouter } from '../engine/stream_router.js';
import { EdgestreamError } from '../errors.js';
import type { ScoreActivation } from './scores.js';
import { scoreFrame, type ScoredFrame } from './windowed_scorer.js';

export interface EngineWindowedScorerOptions {
  /** Frames the head averages over; the engine's programs must use this `headWindow`. */
  windowFrames: number;
  /** No scores before the window holds this many frames. */
  minFrames: number;
  /** How logits become scores (the model's `decision.activation`). */
  activation: ScoreActivation;
  /** The model's look-ahead in frames. */
  delay: number;
  /**
   * Frames in flight (pushed, not yet scored) before new frames are refused (`push` returns false).
   * Keep it at most the engine's `queueFrames`, so that the engine itself never drops. Default 24.
   */
  maxPending?: number;
  /** Called after every output the engine delivers (room for more frames may have opened up). */
  onProgress?: () => void;
}

/**
 * `WindowedScorer` with the model stepped by a shared, batched `Engine` instead of in the caller's
 * thread: one engine stream per scorer, whose program averages the head over the last
 * `windowFrames` frames (create the engine with that `headWindow`). Scores come back through
 * `onScored`, in frame order, with the tag of the push that completed them (the frame `delay`
 * later; the last frame for the flushed tail), and equal `WindowedScorer`'s bit for bit.
 */
export class EngineWindowedScorer<T> {
  private id: string | null = null;
  private serial = 0;
  private pushed = 0;
  private outputs = 0;
  /**
   * Tags by push index, from `tagBase` on. Output i was completed by push i + delay (the look-ahead),
   * or by the last push for the flushed tail: that frame's tag goes with the score.
   */
  private readonly tags: T[] = [];
  private tagBase = 0;
  private readonly retiring = new Set<Promise<void>>();
  private disposed = false;
  private readonly maxPending: number;

  constructor(
    private readonly router: EngineStreamRouter,
    /** Stream-id prefix, unique per scorer (e.g. the device id). */
    private readonly prefix: string,
    private readonly options: EngineWindowedScorerOptions,
    private readonly onScored: (scored: ScoredFrame, tag: T) => void,
  ) {
    this.maxPending = options.maxPending ?? 24;
  }

  /** Frames pushed to the engine and not stepped yet. */
  get pending(): number {
    return this.pushed - this.outputs - Math.min(this.pushed, this.options.delay);
  }

  /** Frames whose score has not come back yet (including the look-ahead). */
  get unscored(): number {
    return this.pushed - this.outputs;
  }

  /**
   * Push one feature frame. Returns false (and does nothing) when `maxPending` frames are still
   * queued in the engine: push again after `onProgress`, or treat the frame as lost.
   */
  push(frame: Float32Array, tag: T): boolean {
    if (this.disposed) throw new EdgestreamError('E_SESSION_STATE', 'the scorer was closed');
    if (this.pending >= this.maxPending) return false;
    if (this.id === null) this.open();
    this.router.push(this.id!, frame);
    this.pushed++;
    this.tags.push(tag);
    return true;
  }

  /** Start over (e.g. after lost audio): the current engine stream is dropped with its pending frames. */
  reset(): void {
    if (this.id !== null) {
      const p = this.router.close(this.id).catch(() => undefined);
      this.retiring.add(p);
      void p.then(() => this.retiring.delete(p));
    }
    this.id = null;
    this.pushed = 0;
    this.outputs = 0;
    this.tags.length = 0;
    this.tagBase = 0;
  }

  /** Score every frame pushed so far (the look-ahead is flushed), then close the engine stream. */
  async close(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.id !== null) await this.router.close(this.id).catch(() => undefined);
    await Promise.all(this.retiring);
    this.id = null;
  }

  private open(): void {
    const id = `${this.prefix}.${this.serial++}`;
    this.id = id;
    this.router.open(id, (index, logits) => {
      if (id !== this.id) return; // a stream dropped by reset(): its outputs belong to no frame now
      this.outputs++;
      const completedBy = Math.min(index + this.options.delay, this.pushed - 1);
      const tag = this.tags[completedBy - this.tagBase] as T;
      // Later outputs are completed by later pushes: forget the tags up to this index.
      const drop = Math.min(index + 1 - this.tagBase, this.tags.length);
      if (drop > 0) {
        this.tags.splice(0, drop);
        this.tagBase += drop;
      }
      const scored = scoreFrame(index, logits, this.options);
      if (scored) this.onScored(scored, tag);
      this.options.onProgress?.();
    });
  }
}
