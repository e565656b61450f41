/**
 * How a keyword model's logits become the scores that thresholds apply to. A model trained with
 * one-vs-rest targets (the official LMUFormer recipe, BCE) scores each label on its own: sigmoid.
 * A model trained as one multi-class decision over its labels, `_unknown_` and `_silence_`
 * included (the standard 12-class Speech Commands task, cross-entropy), scores them together:
 * softmax, so a keyword's score is its probability against every other answer.
 */
export const SCORE_ACTIVATIONS = ['sigmoid', 'softmax'] as const;
export type ScoreActivation = (typeof SCORE_ACTIVATIONS)[number];

/** Scores of one frame's logits, written into `out` (a new array by default). */
export function logitsToScores(logits: ArrayLike<number>, activation: ScoreActivation, out = new Float32Array(logits.length)): Float32Array {
  const K = logits.length;
  if (activation === 'sigmoid') {
    for (let c = 0; c < K; c++) out[c] = 1 / (1 + Math.exp(-logits[c]!));
    return out;
  }
  let max = -Infinity;
  for (let c = 0; c < K; c++) if (logits[c]! > max) max = logits[c]!;
  let sum = 0;
  for (let c = 0; c < K; c++) sum += Math.exp(logits[c]! - max);
  for (let c = 0; c < K; c++) out[c] = Math.exp(logits[c]! - max) / sum;
  return out;
}
