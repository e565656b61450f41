import { z } from 'zod';
import type { DecisionDefaults } from '../model/model_file.js';
import type { ScoreActivation } from './scores.js';
import { validate } from '../util/validate.js';

/**
 * Decision settings: how per-frame scores become keyword events. Everything in frames is at the
 * model's frame rate (100 frames/s for the LMUFormer front end).
 */
export const DecisionOptionsSchema = z.object({
  /**
   * Score a label must reach (its sigmoid or softmax probability, as the model was trained: see
   * `activation` in the model's decision defaults). Default: the threshold stored with the model
   * (calibrated when it was trained), else 0.5. Per-label overrides in `thresholds`.
   */
  threshold: z.number().min(0).max(1).optional(),
  thresholds: z.record(z.string(), z.number().min(0).max(1)).default({}),
  /** Labels that never produce events (e.g. `_unknown_`, `_silence_` if the model has them). */
  ignore: z.array(z.string()).default(['_unknown_', '_silence_', '_background_noise_']),
  /** Moving-average length applied to each label's score before thresholding (1 = none). Default: the model's, else 3. */
  smoothFrames: z.number().int().min(1).max(100).optional(),
  /**
   * A fired label re-arms only after its smoothed score drops below threshold − hysteresis (at most
   * threshold/2 below it). Default: the model's, else 0.1.
   */
  hysteresis: z.number().min(0).max(1).optional(),
  /** After any event, no new event for this long. Default: the model's, else 1000. */
  refractoryMs: z.number().min(0).max(60_000).optional(),
  /**
   * 0: an event fires on the frame a label first reaches its threshold (lowest latency). n > 0:
   * once a label reaches its threshold, wait n frames and report the label whose smoothed score
   * peaked highest meanwhile (a word heard whole rather than its onset; n × 10 ms more latency).
   * Default: the model's, else 0.
   */
  peakFrames: z.number().int().min(0).max(300).optional(),
  /**
   * Continuous streams: frames the classifier head averages over (default: the model's calibrated
   * `streamWindowFrames`, else its training clip length, 128 frames = 1.28 s). Clips: the length
   * clips are padded to (default: the training clip length).
   */
  windowFrames: z.number().int().min(8).max(10_000).optional(),
  /** At the start of a stream, no scores before the head has this many frames. */
  minFrames: z.number().int().min(1).max(10_000).default(30),
});

export type DecisionOptions = z.input<typeof DecisionOptionsSchema>;
type Parsed = z.output<typeof DecisionOptionsSchema>;
export type ResolvedDecisionOptions = Omit<Parsed, 'threshold' | 'smoothFrames' | 'hysteresis' | 'refractoryMs' | 'peakFrames'> & {
  threshold: number;
  smoothFrames: number;
  hysteresis: number;
  refractoryMs: number;
  peakFrames: number;
  /** How the model's logits become scores (from the model file; sigmoid when it says nothing). */
  activation: ScoreActivation;
};

/** The library's defaults, used when neither the options nor the model give a value. */
export const DEFAULT_THRESHOLD = 0.5;
export const DEFAULT_DETECTOR = { smoothFrames: 3, hysteresis: 0.1, refractoryMs: 1000, peakFrames: 0 } as const;

/**
 * Fill in defaults. With a model, its stored decision defaults (what it was calibrated for at
 * training time) come before the library defaults; explicit options win over both.
 */
export function resolveDecisionOptions(options: DecisionOptions = {}, model?: { decision: Readonly<DecisionDefaults> }): ResolvedDecisionOptions {
  const d = model?.decision ?? {};
  const o = validate(DecisionOptionsSchema, options, 'decision options');
  return {
    ...o,
    threshold: o.threshold ?? d.threshold ?? DEFAULT_THRESHOLD,
    thresholds: { ...d.thresholds, ...o.thresholds },
    smoothFrames: o.smoothFrames ?? d.smoothFrames ?? DEFAULT_DETECTOR.smoothFrames,
    hysteresis: o.hysteresis ?? d.hysteresis ?? DEFAULT_DETECTOR.hysteresis,
    refractoryMs: o.refractoryMs ?? d.refractoryMs ?? DEFAULT_DETECTOR.refractoryMs,
    peakFrames: o.peakFrames ?? d.peakFrames ?? DEFAULT_DETECTOR.peakFrames,
    activation: d.activation ?? 'sigmoid',
  };
}

/**
 * The same for whole clips (`classify`, `eval` of a folder of clips): a model calibrated on isolated
 * clips stores their own threshold (`clipThreshold`), which then replaces its stream thresholds. A
 * stream's threshold is set by the false alarms of hours of audio; one clip is one decision, whose
 * false accepts are counted per clip, so the same score bar would reject most clips that are right.
 * Explicit options still win.
 */
export function resolveClipDecisionOptions(options: DecisionOptions = {}, model?: { decision: Readonly<DecisionDefaults> }): ResolvedDecisionOptions {
  const d = model?.decision;
  if (d?.clipThreshold === undefined) return resolveDecisionOptions(options, model);
  const { thresholds: _streamThresholds, ...rest } = d;
  return resolveDecisionOptions(options, { decision: { ...rest, threshold: d.clipThreshold } });
}

export function thresholdFor(options: ResolvedDecisionOptions, label: string): number {
  return options.thresholds[label] ?? options.threshold;
}
