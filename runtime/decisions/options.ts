import { z } from 'zod';
import type { DecisionDefaults } from '../model/model_file.js';

/**
 * Decision settings: how per-frame scores become keyword events. Everything in frames is at the
 * model's frame rate (100 frames/s for the LMUFormer front end).
 */
export const DecisionOptionsSchema = z.object({
  /**
   * Score a label must reach (sigmoid of its logit). Default: the threshold stored with the model
   * (calibrated when it was trained), else 0.5. Per-label overrides in `thresholds`.
   */
  threshold: z.number().min(0).max(1).optional(),
  thresholds: z.record(z.string(), z.number().min(0).max(1)).default({}),
  /** Labels that never produce events (e.g. `_unknown_`, `_silence_` if the model has them). */
  ignore: z.array(z.string()).default(['_unknown_', '_silence_', '_background_noise_']),
  /** Moving-average length applied to each label's score before thresholding (1 = none). */
  smoothFrames: z.number().int().min(1).max(100).default(3),
  /** A fired label re-arms only after its smoothed score drops below threshold − hysteresis (at most threshold/2 below it). */
  hysteresis: z.number().min(0).max(1).default(0.1),
  /** After any event, no new event for this long. */
  refractoryMs: z.number().min(0).max(60_000).default(1000),
  /**
   * Continuous streams: frames the classifier head averages over (default: the model's training
   * clip length, 128 frames = 1.28 s). Clips: the length clips are padded to.
   */
  windowFrames: z.number().int().min(8).max(10_000).optional(),
  /** At the start of a stream, no scores before the head has this many frames. */
  minFrames: z.number().int().min(1).max(10_000).default(30),
});

export type DecisionOptions = z.input<typeof DecisionOptionsSchema>;
export type ResolvedDecisionOptions = Omit<z.output<typeof DecisionOptionsSchema>, 'threshold'> & { threshold: number };

/** The threshold when neither the options nor the model give one. */
export const DEFAULT_THRESHOLD = 0.5;

/**
 * Fill in defaults. With a model, its stored decision defaults (the thresholds it was calibrated
 * for at training time) come before the library defaults; explicit options win over both.
 */
export function resolveDecisionOptions(options: DecisionOptions = {}, model?: { decision: Readonly<DecisionDefaults> }): ResolvedDecisionOptions {
  const d = model?.decision ?? {};
  const o = DecisionOptionsSchema.parse(options);
  return { ...o, threshold: o.threshold ?? d.threshold ?? DEFAULT_THRESHOLD, thresholds: { ...d.thresholds, ...o.thresholds } };
}

export function thresholdFor(options: ResolvedDecisionOptions, label: string): number {
  return options.thresholds[label] ?? options.threshold;
}
