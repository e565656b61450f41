import { sigmoid } from '../layers/activations.js';
import type { Model } from '../model/model.js';
import { resolveDecisionOptions, thresholdFor, type DecisionOptions } from './options.js';
import { WindowedScorer } from './windowed_scorer.js';

export interface ClipResult {
  /** Best eligible label, or `_unknown_` when none reaches its threshold. */
  label: string;
  /** Score of the best eligible label (even when below threshold). */
  score: number;
  detected: boolean;
  /** Per-label scores. */
  scores: Record<string, number>;
}

/** The normalised value of an all-zero fbank frame: what the official loader pads short clips with. */
export function padValue(model: Model): number {
  const n = model.frontend?.normalize;
  return n ? (0 - n.mean) / (2 * n.std) : 0;
}

/**
 * Classify one clip of feature frames the way the model was trained: clips up to the training length
 * are padded (as the official loader does) and scored by the whole-clip logits; longer clips are
 * scanned with the windowed scorer and each label keeps its best score.
 */
export function classifyFrames(model: Model, frames: readonly Float32Array[], options: DecisionOptions = {}): ClipResult {
  const opts = resolveDecisionOptions(options, model);
  const clip = opts.windowFrames ?? model.frontend?.clipFrames ?? 128;
  const K = model.outputDim;
  const scores = new Float32Array(K);
  if (frames.length <= clip) {
    const s = model.createSession();
    const pad = new Float32Array(model.inputDim).fill(padValue(model));
    let last: Float32Array | null = null;
    for (let t = 0; t < clip; t++) for (const o of s.push(t < frames.length ? frames[t]! : pad)) last = o;
    for (const o of s.flush()) last = o;
    for (let c = 0; c < K; c++) scores[c] = sigmoid(last![c]!);
  } else {
    const scorer = new WindowedScorer(model, { windowFrames: clip, minFrames: Math.min(opts.minFrames, clip) });
    const take = (r: { scores: Float32Array } | null): void => {
      if (r) for (let c = 0; c < K; c++) scores[c] = Math.max(scores[c]!, r.scores[c]!);
    };
    for (const f of frames) take(scorer.push(f));
    for (const r of scorer.flush()) take(r);
  }
  const labels = model.labels.length === K ? model.labels : Array.from({ length: K }, (_, i) => `class_${i}`);
  let best = -1;
  for (let c = 0; c < K; c++) {
    if (opts.ignore.includes(labels[c]!)) continue;
    if (best < 0 || scores[c]! > scores[best]!) best = c;
  }
  const bestLabel = best >= 0 ? labels[best]! : '_unknown_';
  const score = best >= 0 ? scores[best]! : 0;
  const detected = best >= 0 && score >= thresholdFor(opts, bestLabel);
  return {
    label: detected ? bestLabel : '_unknown_',
    score: Math.round(score * 1e4) / 1e4,
    detected,
    scores: Object.fromEntries(labels.map((l, c) => [l, Math.round(scores[c]! * 1e4) / 1e4])),
  };
}
