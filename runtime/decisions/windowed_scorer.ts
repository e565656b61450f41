import { EdgestreamError } from '../errors.js';
import type { Model } from '../model/model.js';
import type { Session } from '../stream/session.js';
import { logitsToScores, type ScoreActivation } from './scores.js';

/**
 * Scores for an unbounded stream from a model trained on fixed-length clips with a mean head.
 *
 * The official head averages over everything since the stream began, so on a long stream a
 * one-second keyword is diluted to nothing. Here one session runs for the whole stream with its
 * head averaging over the last `windowFrames` frames only (the training clip length; see
 * `MeanHead`): every score sees the same span as a training clip, the recurrent state never resets,
 * and the cost is one model step per frame. (An earlier policy, several staggered sessions reset
 * every window, cost 4× as much and misfired when a freshly reset session's mean covered only a
 * few frames; measured on a stream of held-out clips, the windowed head gave more correct
 * detections with fewer wrong labels and false alarms — docs/keyword-spotting.md, "Continuous detection".)
 *
 * Scores start once the window holds `minFrames` frames.
 */
export interface ScoredFrame {
  /** Index of the input frame this score belongs to (outputs lag the input by the model's delay). */
  frame: number;
  /** Scores per label (sigmoid or softmax of the logits, as the model was trained). */
  scores: Float32Array;
  /** Frames the head averaged over for this score (≤ windowFrames). */
  span: number;
}

export interface WindowOptions {
  /** Frames the head averages over. Default: the model's calibrated stream window, else its training clip length (128). */
  windowFrames?: number;
  /** No scores before the window holds this many frames. Default 30. */
  minFrames?: number;
}

/** How a stream's frames are scored: the head's window, when scores start, and the activation. */
export interface WindowSettings {
  windowFrames: number;
  minFrames: number;
  activation: ScoreActivation;
}

/** Validated window settings for a model. */
export function windowSettings(model: Model, options: WindowOptions = {}): WindowSettings {
  const windowFrames = options.windowFrames ?? model.decision.streamWindowFrames ?? model.frontend?.clipFrames ?? 128;
  const minFrames = options.minFrames ?? 30;
  if (!(Number.isInteger(windowFrames) && windowFrames >= 1)) throw new EdgestreamError('E_CONFIG', `windowFrames must be a positive integer, got ${windowFrames}`);
  if (!(Number.isInteger(minFrames) && minFrames >= 1 && minFrames <= windowFrames)) {
    throw new EdgestreamError('E_CONFIG', `minFrames must be an integer from 1 to windowFrames (${windowFrames}), got ${minFrames}`);
  }
  return { windowFrames, minFrames, activation: model.decision.activation ?? 'sigmoid' };
}

/** Logits of frame `index` → a scored frame (null while the window is still too short). */
export function scoreFrame(index: number, logits: Float32Array, window: WindowSettings): ScoredFrame | null {
  const span = Math.min(index + 1, window.windowFrames);
  if (span < window.minFrames) return null;
  return { frame: index, scores: logitsToScores(logits, window.activation), span };
}

export class WindowedScorer {
  private readonly session: Session;
  private readonly window: WindowSettings;
  private next = 0; // index of the next output

  constructor(model: Model, options: WindowOptions = {}) {
    this.window = windowSettings(model, options);
    this.session = model.createSession({ headWindow: this.window.windowFrames });
  }

  get windowFrames(): number {
    return this.window.windowFrames;
  }

  /** Push one feature frame; returns the scored frame that became ready, if any. */
  push(frame: ArrayLike<number>): ScoredFrame | null {
    const outs = this.session.push(frame);
    return outs.length > 0 ? scoreFrame(this.next++, outs[0]!, this.window) : null;
  }

  /** End of stream: the frames still held back by the model's look-ahead. */
  flush(): ScoredFrame[] {
    const scored: ScoredFrame[] = [];
    for (const o of this.session.flush()) {
      const s = scoreFrame(this.next++, o, this.window);
      if (s) scored.push(s);
    }
    return scored;
  }

  reset(): void {
    this.session.reset();
    this.next = 0;
  }

  /** Release the session's state (kernel memory). */
  close(): void {
    this.session.close();
  }
}
