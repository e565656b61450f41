import type { Model } from '../model/model.js';
import { resolveClipDecisionOptions, resolveDecisionOptions, thresholdFor, type DecisionOptions, type ResolvedDecisionOptions } from './options.js';
import { logitsToScores } from './scores.js';
import { WindowedScorer } from './windowed_scorer.js';

export interface ClipResult {
  /**
   * The model's answer. Softmax models (one decision over all labels, e.g. the 12-class task):
   * the top label, which may be `_unknown_` or `_silence_`. One-vs-rest (sigmoid) models: the best
   * eligible label when it reaches its threshold, else `_unknown_`.
   */
  label: string;
  /** Score of that label (for one-vs-rest models below threshold: of the best eligible label). */
  score: number;
  /** The label is one that produces events (not in `ignore`) and its score reaches its threshold. */
  detected: boolean;
  /** Per-label scores. */
  scores: Record<string, number>;
}

/** The normalised value of an all-zero fbank frame: what the official loader pads short clips with. */
export function padValue(model: Model): number {
  const n = model.frontend?.normalize;
  return n ? (0 - n.mean) / (2 * n.std) : 0;
}

/** Logits of a clip's whole-clip output: the clip padded to the training length, as the official loader does. */
export function paddedClipLogits(model: Model, frames: readonly Float32Array[], clipFrames: number): Float32Array {
  const s = model.createSession();
  const pad = new Float32Array(model.inputDim).fill(padValue(model));
  let last: Float32Array | null = null;
  for (let t = 0; t < clipFrames; t++) for (const o of s.push(t < frames.length ? frames[t]! : pad)) last = o;
  for (const o of s.flush()) last = o;
  s.close();
  return last!;
}

/**
 * Classify one clip of feature frames the way the model was trained: clips up to the training length
 * are padded (as the official loader does) and scored by the whole-clip logits; longer clips are
 * scanned with the windowed scorer and each label keeps its best score.
 */
export function classifyFrames(model: Model, frames: readonly Float32Array[], options: DecisionOptions = {}): ClipResult {
  const clipOpts = resolveClipDecisionOptions(options, model);
  const clip = clipOpts.windowFrames ?? model.frontend?.clipFrames ?? 128;
  // A clip is decided with the model's clip threshold; a longer recording is scanned like a stream.
  const opts = frames.length <= clip ? clipOpts : resolveDecisionOptions(options, model);
  const K = model.outputDim;
  let scores: Float32Array;
  if (frames.length <= clip) {
    scores = logitsToScores(paddedClipLogits(model, frames, clip), opts.activation);
  } else {
    scores = new Float32Array(K);
    const scorer = new WindowedScorer(model, { windowFrames: clip, minFrames: Math.min(opts.minFrames, clip) });
    const take = (r: { scores: Float32Array } | null): void => {
      if (r) for (let c = 0; c < K; c++) scores[c] = Math.max(scores[c]!, r.scores[c]!);
    };
    for (const f of frames) take(scorer.push(f));
    for (const r of scorer.flush()) take(r);
    scorer.close();
  }
  const labels = model.labels.length === K ? model.labels : Array.from({ length: K }, (_, i) => `class_${i}`);
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  const { label, score, detected } = decide(labels, scores, opts, frames.length <= clip);
  return { label, score: round(score), detected, scores: Object.fromEntries(labels.map((l, c) => [l, round(scores[c]!)])) };
}

/**
 * One clip's decision from its label scores. With softmax scores of a whole clip the answer is the
 * top label; otherwise (one-vs-rest scores, or the per-label best of a long clip's windows) the
 * best event label if it reaches its threshold, else the best of the others (`_unknown_` if none).
 */
export function decide(labels: readonly string[], scores: Float32Array, opts: ResolvedDecisionOptions, wholeClip = true): { label: string; score: number; detected: boolean } {
  const eligible = (c: number) => !opts.ignore.includes(labels[c]!);
  let top = 0;
  for (let c = 1; c < scores.length; c++) if (scores[c]! > scores[top]!) top = c;
  if (opts.activation === 'softmax' && wholeClip) {
    const label = labels[top]!;
    return { label, score: scores[top]!, detected: eligible(top) && scores[top]! >= thresholdFor(opts, label) };
  }
  let best = -1;
  let other = -1;
  for (let c = 0; c < scores.length; c++) {
    if (eligible(c)) {
      if (best < 0 || scores[c]! > scores[best]!) best = c;
    } else if (other < 0 || scores[c]! > scores[other]!) other = c;
  }
  if (best >= 0 && scores[best]! >= thresholdFor(opts, labels[best]!)) return { label: labels[best]!, score: scores[best]!, detected: true };
  if (opts.activation === 'softmax' && other >= 0) return { label: labels[other]!, score: scores[other]!, detected: false };
  return { label: '_unknown_', score: best >= 0 ? scores[best]! : 0, detected: false };
}
