import type { Model } from '../model/model.js';
import { decide, padValue } from './clip_classifier.js';
import { detSweep, type DetPoint } from './det_curve.js';
import { resolveClipDecisionOptions, type DecisionOptions } from './options.js';
import { logitsToScores } from './scores.js';

/**
 * Accuracy of a keyword model on labelled clips, the way the official evaluation scores them
 * (clip padded to the training length, whole-clip logits), plus what a streaming user wants to know:
 * false accepts on non-keyword clips (as a rate and per hour of such audio, across thresholds: the
 * DET curve), a confusion matrix, and accuracy after hearing only part of the clip (the official
 * `all_seq` outputs: the LMUFormer paper's point that decisions come early).
 */
export interface LabelledClip {
  /** A model label for keyword clips; anything else (e.g. `_unknown_`, `_silence_`, `bed`) is a negative. */
  label: string;
  frames: readonly Float32Array[];
  name?: string;
}

export interface EvaluationReport {
  clips: number;
  keywordClips: number;
  negativeClips: number;
  /** Top-1 over keyword clips: the model's answer (see `ClipResult.label`) is the clip's label, thresholds not applied. */
  top1: number;
  /**
   * Models with non-event labels (`_unknown_`, `_silence_`): accuracy over every clip, a negative
   * counting as right when the answer is the non-event label it belongs to (words the model does
   * not know → `_unknown_`). Null for models without them.
   */
  accuracy: number | null;
  /** Keyword clips whose answer is correct AND passes its threshold. */
  detectionRate: number;
  /** Negative clips on which a keyword is accepted (passes its threshold). */
  falseAcceptRate: number;
  /** Hours of negative audio, and false accepts per hour of it at the threshold. */
  negativeHours: number;
  falseAcceptsPerHour: number;
  threshold: number;
  perClass: Record<string, { clips: number; correct: number; accuracy: number }>;
  /**
   * confusion[true][answer] counts over keyword clips, and over negatives too when the model has a
   * label for them (`_unknown_` for words it does not know, `_silence_`).
   */
  confusion: Record<string, Record<string, number>>;
  /** Top-1 and false-accept rate when deciding after `frames` of the (padded) clip. */
  curve: { frames: number; fraction: number; top1: number; falseAcceptRate: number }[];
  /** Miss rate against false accepts across thresholds (the DET curve). */
  det: DetPoint[];
  /** Negatives that were accepted, and keyword clips that were missed (names, for listening). */
  falseAccepts: { name: string; label: string; score: number }[];
  misses: { name: string; label: string; predicted: string; score: number }[];
}

export function evaluateClips(model: Model, clips: readonly LabelledClip[], options: DecisionOptions = {}): EvaluationReport {
  const opts = resolveClipDecisionOptions(options, model);
  const clipFrames = opts.windowFrames ?? model.frontend?.clipFrames ?? 128;
  const shiftMs = model.frontend?.frameShiftMs ?? 10;
  const labels = model.labels;
  const isKeyword = (l: string) => labels.includes(l) && !opts.ignore.includes(l);
  const nonEvent = labels.filter((l) => opts.ignore.includes(l));
  /** The label a clip should get: its own, or the non-event label it belongs to. */
  const truthOf = (l: string) => (labels.includes(l) ? l : nonEvent.includes('_unknown_') && l !== '_silence_' ? '_unknown_' : l);
  const checkpoints = Array.from({ length: 10 }, (_, i) => Math.max(1, Math.round(((i + 1) / 10) * clipFrames)));
  const curveHits = checkpoints.map(() => ({ top1: 0, fa: 0 }));
  const perClass: EvaluationReport['perClass'] = {};
  const confusion: EvaluationReport['confusion'] = {};
  const falseAccepts: EvaluationReport['falseAccepts'] = [];
  const misses: EvaluationReport['misses'] = [];
  const keywordScores: { correct: boolean; score: number }[] = [];
  const negativeScores: number[] = [];
  let keywordClips = 0;
  let top1 = 0;
  let detected = 0;
  let negatives = 0;
  let negativeMs = 0;
  let fa = 0;
  let right = 0;
  const pad = new Float32Array(model.inputDim).fill(padValue(model));
  const scores = new Float32Array(model.outputDim);
  const answer = (logits: Float32Array) => decide(labels, logitsToScores(logits, opts.activation, scores), opts);
  /** The answer with thresholds ignored: the label `decide` would give at threshold 0. */
  const topLabel = (logits: Float32Array) => decide(labels, logitsToScores(logits, opts.activation, scores), { ...opts, threshold: 0, thresholds: {} });

  for (const clip of clips) {
    // all_seq: one output per frame of the padded clip (longer clips are cut to the training length).
    const s = model.createSession();
    const outs: Float32Array[] = [];
    for (let t = 0; t < clipFrames; t++) outs.push(...s.push(t < clip.frames.length ? clip.frames[t]! : pad));
    outs.push(...s.flush());
    s.close();
    const last = outs[clipFrames - 1]!;
    const final = answer(last);
    const top = topLabel(last);
    const name = clip.name ?? `clip${keywordClips + negatives}`;
    const truth = truthOf(clip.label);
    if (top.label === truth) right++;
    // Negatives have rows of their own when the model has labels for them (`_unknown_`, `_silence_`).
    if (isKeyword(clip.label) || nonEvent.includes(truth)) {
      const row = (confusion[truth] ??= {});
      row[top.label] = (row[top.label] ?? 0) + 1;
      const pc = (perClass[truth] ??= { clips: 0, correct: 0, accuracy: 0 });
      pc.clips++;
      if (top.label === truth) pc.correct++;
    }
    if (isKeyword(clip.label)) {
      keywordClips++;
      keywordScores.push({ correct: top.label === clip.label, score: top.score });
      if (top.label === clip.label) {
        top1++;
        if (final.detected) detected++;
      } else {
        misses.push({ name, label: clip.label, predicted: top.label, score: round(top.score) });
      }
      checkpoints.forEach((n, i) => { if (topLabel(outs[n - 1]!).label === clip.label) curveHits[i]!.top1++; });
    } else {
      negatives++;
      negativeMs += Math.max(clip.frames.length, 1) * shiftMs;
      // The score at which this negative would be accepted: its answer's, when the answer is a keyword.
      negativeScores.push(isKeyword(top.label) ? top.score : -1);
      if (final.detected) {
        fa++;
        falseAccepts.push({ name, label: final.label, score: round(final.score) });
      }
      checkpoints.forEach((n, i) => { if (answer(outs[n - 1]!).detected) curveHits[i]!.fa++; });
    }
  }
  for (const pc of Object.values(perClass)) pc.accuracy = round(pc.correct / pc.clips);
  const rate = (a: number, b: number) => (b > 0 ? round(a / b) : 0);
  const negativeHours = negativeMs / 3_600_000;
  return {
    clips: clips.length,
    keywordClips,
    negativeClips: negatives,
    top1: rate(top1, keywordClips),
    accuracy: nonEvent.length > 0 ? rate(right, clips.length) : null,
    detectionRate: rate(detected, keywordClips),
    falseAcceptRate: rate(fa, negatives),
    negativeHours: round(negativeHours),
    falseAcceptsPerHour: negativeHours > 0 ? round(fa / negativeHours) : 0,
    threshold: opts.threshold,
    perClass,
    confusion,
    curve: checkpoints.map((n, i) => ({
      frames: n, fraction: round(n / clipFrames), top1: rate(curveHits[i]!.top1, keywordClips), falseAcceptRate: rate(curveHits[i]!.fa, negatives),
    })),
    det: detSweep(
      (t) => keywordScores.filter((k) => !(k.correct && k.score >= t)).length / Math.max(keywordClips, 1),
      (t) => negativeScores.filter((s) => s >= t).length,
      negativeHours,
    ),
    falseAccepts,
    misses,
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
