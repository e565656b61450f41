import { sigmoid } from '../layers/activations.js';
import type { EngineStreamRouter } from '../engine/stream_router.js';
import { EdgestreamError } from '../errors.js';
import type { ScoredFrame } from './windowed_scorer.js';

export interface EngineWindowedScorerOptions {
  /** Frames per window (each session is reset after this many). */
  windowFrames: number;
  sessions: number;
  minFrames: number;
  /** The model's look-ahead in frames. */
  delay: number;
  /** Labels per output. */
  outputDim: number;
  /**
   * Frames in flight (pushed, not yet scored) before new frames are refused (`push` returns false).
   * Keep it at most the engine's `queueFrames`, so that the engine itself never drops. Default 24.
   */
  maxPending?: number;
  /** Called after every output the engine delivers (room for more frames may have opened up). */
  onProgress?: () => void;
}

/** One frame whose score is being assembled from the sessions' outputs. */
interface PendingFrame<T> {
  frame: number;
  /** Outputs still to come (from mature sessions). */
  waiting: number;
  scores: Float32Array | null;
  /** Per session: its best label score for this frame (−1: no output) and frames seen. */
  sessionMax: Float64Array;
  sessionSeen: Int32Array;
  tag: T;
}

/** One incarnation of one staggered session: an engine stream from one reset to the next. */
interface Generation {
  id: string;
  /** Global frame index of its first frame. */
  start: number;
  /** Outputs (by index) that count, and the frame + maturity each belongs to; others are ignored. */
  wanted: Map<number, { pending: PendingFrame<unknown>; session: number; seen: number }>;
  /** Frames pushed and outputs received: the difference (less the look-ahead) is still in the engine's queue. */
  pushed: number;
  outputs: number;
}

/**
 * The windowing policy of `WindowedScorer` (staggered sessions reset every `windowFrames`, score =
 * max over sessions that have seen at least `minFrames`), with the sessions stepped by a shared,
 * batched `Engine` instead of in the caller's thread. Scores come back asynchronously through
 * `onScored`, in frame order, and equal `WindowedScorer`'s bit for bit (`test/unit/engine_scorer.test.ts`).
 *
 * Each reset closes the session's engine stream and opens a new one (its flush outputs are ignored).
 */
export class EngineWindowedScorer<T> {
  private readonly since: number[];
  private readonly generations: (Generation | null)[];
  private readonly queue: PendingFrame<T>[] = [];
  private t = 0;
  private serial = 0;
  private closing: Promise<void>[] = [];
  private disposed = false;
  private readonly maxPending: number;

  constructor(
    private readonly router: EngineStreamRouter,
    /** Stream-id prefix, unique per scorer (e.g. the device id). */
    private readonly prefix: string,
    private readonly options: EngineWindowedScorerOptions,
    private readonly onScored: (scored: ScoredFrame, tag: T) => void,
  ) {
    const { windowFrames, sessions, minFrames, delay } = options;
    if (minFrames >= windowFrames - delay) {
      throw new EdgestreamError('E_CONFIG', `minFrames (${minFrames}) must be below the window (${windowFrames}) minus the model delay (${delay})`);
    }
    this.maxPending = options.maxPending ?? 24;
    this.since = Array.from({ length: sessions }, (_, j) => -Math.round((j * windowFrames) / sessions));
    this.generations = Array.from({ length: sessions }, () => null);
  }

  /** Frames pushed to the engine and not stepped yet (the most of any session's stream). */
  get pending(): number {
    let most = 0;
    const d = this.options.delay;
    for (const g of this.generations) if (g) most = Math.max(most, g.pushed - g.outputs - Math.min(g.pushed, d));
    return most;
  }

  /** Frames whose score is still being assembled. */
  get unscored(): number {
    return this.queue.length;
  }

  /**
   * Push one feature frame. Returns false (and does nothing) when `maxPending` frames are still
   * queued in the engine: push again after `onProgress`, or treat the frame as lost.
   */
  push(frame: Float32Array, tag: T): boolean {
    if (this.disposed) throw new EdgestreamError('E_SESSION_STATE', 'the scorer was closed');
    if (this.pending >= this.maxPending) return false;
    const { windowFrames, delay, minFrames } = this.options;
    const k = this.since.length;
    const pending: PendingFrame<T> = { frame: this.t - delay, waiting: 0, scores: null, sessionMax: new Float64Array(k).fill(-1), sessionSeen: new Int32Array(k), tag };
    for (let j = 0; j < this.since.length; j++) {
      if (this.since[j]! >= windowFrames) {
        this.retire(j);
        this.since[j] = 0;
      }
      if (this.since[j]! < 0) {
        this.since[j]!++;
        continue;
      }
      let g = this.generations[j];
      if (!g) g = this.openGeneration(j);
      const local = this.since[j]!; // this frame's index within the session's stream
      this.router.push(g.id, frame);
      g.pushed++;
      this.since[j]!++;
      const seen = this.since[j]! - delay;
      // The push of local frame n yields output n − delay (once n ≥ delay); it counts if mature.
      if (local >= delay && seen >= minFrames) {
        g.wanted.set(local - delay, { pending: pending as PendingFrame<unknown>, session: j, seen });
        pending.waiting++;
      }
    }
    this.t++;
    this.queue.push(pending);
    this.drain();
    return true;
  }

  /** Start over (e.g. after lost audio): every session restarts at its stagger offset. */
  reset(): void {
    for (let j = 0; j < this.since.length; j++) {
      this.retire(j);
      this.since[j] = -Math.round((j * this.options.windowFrames) / this.since.length);
    }
    this.queue.length = 0;
    this.t = 0;
  }

  /** Wait for every frame pushed so far to be scored, then close the engine streams. */
  async close(): Promise<void> {
    if (this.disposed) return;
    for (let j = 0; j < this.since.length; j++) this.retire(j);
    this.disposed = true;
    await Promise.all(this.closing);
    this.closing = [];
  }

  private openGeneration(j: number): Generation {
    const g: Generation = { id: `${this.prefix}#${j}.${this.serial++}`, start: this.t, wanted: new Map(), pushed: 0, outputs: 0 };
    this.generations[j] = g;
    this.router.open(g.id, (index, values) => this.onOutput(g, index, values));
    return g;
  }

  /** Close session j's current stream; outputs still owed to pending frames arrive before `close` resolves. */
  private retire(j: number): void {
    const g = this.generations[j];
    if (!g) return;
    this.generations[j] = null;
    const p = this.router.close(g.id).catch(() => undefined);
    this.closing.push(p);
    void p.then(() => {
      this.closing = this.closing.filter((x) => x !== p);
    });
  }

  private onOutput(g: Generation, index: number, logits: Float32Array): void {
    g.outputs++;
    const w = g.wanted.get(index);
    if (!w) {
      this.options.onProgress?.(); // immature, or the flush tail of a retired stream
      return;
    }
    g.wanted.delete(index);
    const p = w.pending;
    const K = this.options.outputDim;
    p.scores ??= new Float32Array(K);
    let localMax = -1;
    for (let c = 0; c < K; c++) {
      const v = sigmoid(logits[c]!);
      if (v > p.scores[c]!) p.scores[c] = v;
      if (v > localMax) localMax = v;
    }
    p.sessionMax[w.session] = localMax;
    p.sessionSeen[w.session] = w.seen;
    p.waiting--;
    this.drain();
    this.options.onProgress?.();
  }

  /** Hand on the frames whose outputs are all in, in order. */
  private drain(): void {
    while (this.queue.length > 0 && this.queue[0]!.waiting === 0) {
      const p = this.queue.shift()!;
      if (!p.scores) continue;
      // The span of the session with the highest score, ties to the lowest session (as WindowedScorer).
      let bestMax = -1;
      let span = 0;
      for (let j = 0; j < p.sessionMax.length; j++) {
        if (p.sessionMax[j]! > bestMax) {
          bestMax = p.sessionMax[j]!;
          span = p.sessionSeen[j]!;
        }
      }
      this.onScored({ frame: p.frame, scores: p.scores, span }, p.tag);
    }
  }
}
