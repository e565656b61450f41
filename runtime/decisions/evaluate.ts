import { sigmoid } from '../layers/activations.js';
import type { Model } from '../model/model.js';
import { padValue } from './clip_classifier.js';
import { resolveDecisionOptions, thresholdFor, type DecisionOptions } from './options.js';

/**
 * Accuracy of a keyword model on labelled clips, the way the official evaluation scores them
 * (clip padded to the training length, whole-clip logits), plus what a streaming user wants to know:
 * false accepts on non-keyword clips, a confusion matrix, and accuracy after hearing only part of the
 * clip (the official `all_seq` outputs: the LMUFormer paper's point that decisions come early).
 */
export interface LabelledClip {
  /** A model label for keyword clips; anything else (e.g. `_unknown_`, `_silence_`) is a negative. */
  label: string;
  frames: readonly Float32Array[];
  name?: string;
}

export interface EvaluationReport {
  clips: number;
  keywordClips: number;
  negativeClips: number;
  /** Top-1 over keyword clips (argmax over the model's labels, thresholds not applied). */
  top1: number;
  /** Keyword clips whose best label is correct AND passes its threshold. */
  detectionRate: number;
  /** Negative clips on which any keyword passes its threshold. */
  falseAcceptRate: number;
  threshold: number;
  perClass: Record<string, { clips: number; correct: number; accuracy: number }>;
  /** confusion[true][predicted] counts over keyword clips (predicted = argmax label). */
  confusion: Record<string, Record<string, number>>;
  /** Top-1 and false-accept rate when deciding after `frames` of the (padded) clip. */
  curve: { frames: number; fraction: number; top1: number; falseAcceptRate: number }[];
  /** Negatives that were accepted, and keyword clips that were missed (names, for listening). */
  falseAccepts: { name: string; label: string; score: number }[];
  misses: { name: string; label: string; predicted: string; score: number }[];
}

export function evaluateClips(model: Model, clips: readonly LabelledClip[], options: DecisionOptions = {}): EvaluationReport {
  const opts = resolveDecisionOptions(options, model);
  const clipFrames = opts.windowFrames ?? model.frontend?.clipFrames ?? 128;
  const labels = model.labels;
  const K = model.outputDim;
  const eligible = labels.map((l) => !opts.ignore.includes(l));
  const isKeyword = (l: string) => labels.includes(l) && !opts.ignore.includes(l);
  const checkpoints = Array.from({ length: 10 }, (_, i) => Math.max(1, Math.round(((i + 1) / 10) * clipFrames)));
  const curveHits = checkpoints.map(() => ({ top1: 0, fa: 0 }));
  const perClass: EvaluationReport['perClass'] = {};
  const confusion: EvaluationReport['confusion'] = {};
  const falseAccepts: EvaluationReport['falseAccepts'] = [];
  const misses: EvaluationReport['misses'] = [];
  let keywordClips = 0;
  let top1 = 0;
  let detected = 0;
  let negatives = 0;
  let fa = 0;
  const pad = new Float32Array(model.inputDim).fill(padValue(model));

  for (const clip of clips) {
    // all_seq: one output per frame of the padded clip (longer clips are cut to the training length).
    const s = model.createSession();
    const outs: Float32Array[] = [];
    for (let t = 0; t < clipFrames; t++) outs.push(...s.push(t < clip.frames.length ? clip.frames[t]! : pad));
    outs.push(...s.flush());
    const decide = (logits: Float32Array) => {
      let best = -1;
      for (let c = 0; c < K; c++) if (eligible[c] && (best < 0 || logits[c]! > logits[best]!)) best = c;
      const score = sigmoid(logits[best]!);
      return { best, label: labels[best]!, score, accepted: score >= thresholdFor(opts, labels[best]!) };
    };
    const final = decide(outs[clipFrames - 1]!);
    const name = clip.name ?? `clip${keywordClips + negatives}`;
    if (isKeyword(clip.label)) {
      keywordClips++;
      const pc = (perClass[clip.label] ??= { clips: 0, correct: 0, accuracy: 0 });
      pc.clips++;
      const row = (confusion[clip.label] ??= {});
      row[final.label] = (row[final.label] ?? 0) + 1;
      if (final.label === clip.label) {
        top1++;
        pc.correct++;
        if (final.accepted) detected++;
      } else {
        misses.push({ name, label: clip.label, predicted: final.label, score: round(final.score) });
      }
      checkpoints.forEach((n, i) => { if (decide(outs[n - 1]!).label === clip.label) curveHits[i]!.top1++; });
    } else {
      negatives++;
      if (final.accepted) {
        fa++;
        falseAccepts.push({ name, label: final.label, score: round(final.score) });
      }
      checkpoints.forEach((n, i) => { if (decide(outs[n - 1]!).accepted) curveHits[i]!.fa++; });
    }
  }
  for (const pc of Object.values(perClass)) pc.accuracy = round(pc.correct / pc.clips);
  const rate = (a: number, b: number) => (b > 0 ? round(a / b) : 0);
  return {
    clips: clips.length,
    keywordClips,
    negativeClips: negatives,
    top1: rate(top1, keywordClips),
    detectionRate: rate(detected, keywordClips),
    falseAcceptRate: rate(fa, negatives),
    threshold: opts.threshold,
    perClass,
    confusion,
    curve: checkpoints.map((n, i) => ({
      frames: n, fraction: round(n / clipFrames), top1: rate(curveHits[i]!.top1, keywordClips), falseAcceptRate: rate(curveHits[i]!.fa, negatives),
    })),
    falseAccepts,
    misses,
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
