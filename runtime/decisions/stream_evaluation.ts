import { z } from 'zod';
import { validate } from '../util/validate.js';
import type { Model } from '../model/model.js';
import { detSweep, type DetPoint } from './det_curve.js';
import { KeywordDetector, type KeywordEvent } from './keyword_detector.js';
import { resolveDecisionOptions, type DecisionOptions } from './options.js';
import { WindowedScorer, type ScoredFrame } from './windowed_scorer.js';

/**
 * Keyword spotting judged on continuous audio, as users hear it: a long recording with a truth file
 * of what was said when. The recording runs through the same windowed scoring and event detector
 * as `listen` and the service (with the same start-of-stream warm-up), once, and the detector is
 * replayed over the scores at every threshold for the DET curve.
 *
 * Scoring: an event is a hit when it names a command that was said and fires between the start of
 * the command and `toleranceMs` after its end (the head's window must have heard it whole, so
 * events come after the word); each command counts once. Every other event is a false alarm: a
 * wrong label on a command, a second event for a command already found, or an event elsewhere.
 */
export const StreamTruthSchema = z.object({
  /** Length of the recording in seconds (events after the end are refused). */
  seconds: z.number().positive().max(7 * 24 * 3600),
  /** What was said: commands (labels the model fires on) and anything else (other words, for reference). */
  events: z.array(z.object({
    label: z.string().min(1).max(200),
    start_ms: z.number().min(0),
    end_ms: z.number().min(0),
    speaker: z.string().max(200).optional(),
  }).refine((e) => e.end_ms >= e.start_ms, 'end_ms before start_ms')).max(1_000_000),
}).passthrough();
export type StreamTruth = z.infer<typeof StreamTruthSchema>;

/** A truth file's JSON, validated (`E_TRUTH_FORMAT` naming the field). */
export function parseStreamTruth(json: unknown, what: string): StreamTruth {
  return validate(StreamTruthSchema, json, `${what} (expected {"seconds": n, "events": [{"label", "start_ms", "end_ms"}, …]})`, 'E_TRUTH_FORMAT');
}

export interface StreamEvaluationOptions {
  decision?: DecisionOptions;
  /** No events in the first `warmupMs` of the stream (as `listen` and the service). Default 1000. */
  warmupMs?: number;
  /** How long after a command's end its event may come. Default 1300 ms (the 1.28 s window). */
  toleranceMs?: number;
}

export interface StreamScore {
  threshold: number;
  commands: number;
  found: number;
  foundRate: number;
  wrongLabel: number;
  duplicates: number;
  elsewhere: number;
  falseAlarms: number;
  falseAlarmsPerMinute: number;
}

export interface StreamEvaluationReport extends StreamScore {
  minutes: number;
  smoothFrames: number;
  refractoryMs: number;
  peakFrames: number;
  warmupMs: number;
  toleranceMs: number;
  /** Per command label: said and found. */
  perLabel: Record<string, { said: number; found: number }>;
  /** Every event at the operating threshold, each with what it was judged to be. */
  events: (KeywordEvent & { verdict: 'hit' | 'wrong-label' | 'duplicate' | 'false-alarm'; truth?: string })[];
  missed: { label: string; start_ms: number; end_ms: number }[];
  /** Missed commands against false alarms per hour, across thresholds. */
  det: DetPoint[];
}

export function evaluateStream(model: Model, frames: readonly Float32Array[], truth: StreamTruth, options: StreamEvaluationOptions = {}): StreamEvaluationReport {
  const opts = resolveDecisionOptions(options.decision, model);
  const warmupMs = options.warmupMs ?? 1000;
  const toleranceMs = options.toleranceMs ?? 1300;
  const fe = model.frontend;
  const frameMs = fe ? { shift: fe.frameShiftMs, length: fe.frameLengthMs } : { shift: 10, length: 25 };
  const eventLabels = new Set(model.labels.filter((l) => !opts.ignore.includes(l)));
  const commands = truth.events.filter((e) => eventLabels.has(e.label)).sort((a, b) => a.start_ms - b.start_ms);
  const minutes = Math.max(truth.seconds, frames.length * frameMs.shift / 1000) / 60;

  const scorer = new WindowedScorer(model, { ...(opts.windowFrames !== undefined && { windowFrames: opts.windowFrames }), minFrames: opts.minFrames });
  const scored: ScoredFrame[] = [];
  for (const f of frames) {
    const r = scorer.push(f);
    if (r) scored.push(r);
  }
  scored.push(...scorer.flush());
  scorer.close();

  // The DET sweep moves one threshold for every label; the stored settings keep their per-label ones.
  const detect = (threshold: number, thresholds: Record<string, number> = {}): KeywordEvent[] => {
    const d = new KeywordDetector(model.labels, { ...opts, threshold, thresholds }, frameMs);
    const out: KeywordEvent[] = [];
    for (const r of scored) {
      const e = d.push(r.frame, r.scores, r.span);
      if (e && e.end_ms >= warmupMs) out.push(e);
    }
    const last = d.flush(scored.at(-1)?.frame ?? 0);
    if (last && last.end_ms >= warmupMs) out.push(last);
    return out;
  };
  const judge = (events: KeywordEvent[]) => {
    const hit = new Array<boolean>(commands.length).fill(false);
    const verdicts = events.map((e) => {
      const near = commands.map((c, i) => ({ c, i })).filter(({ c }) => e.end_ms >= c.start_ms && e.end_ms <= c.end_ms + toleranceMs);
      const same = near.find(({ c, i }) => c.label === e.label && !hit[i]);
      if (same) {
        hit[same.i] = true;
        return { verdict: 'hit' as const, truth: same.c.label };
      }
      if (near.some(({ c, i }) => c.label === e.label && hit[i])) return { verdict: 'duplicate' as const, truth: e.label };
      if (near.length > 0) return { verdict: 'wrong-label' as const, truth: near[0]!.c.label };
      return { verdict: 'false-alarm' as const };
    });
    return { hit, verdicts };
  };
  const score = (threshold: number, events: KeywordEvent[], j: ReturnType<typeof judge>): StreamScore => {
    const count = (v: string) => j.verdicts.filter((x) => x.verdict === v).length;
    const found = j.hit.filter(Boolean).length;
    const falseAlarms = events.length - found;
    return {
      threshold, commands: commands.length, found, foundRate: round(found / Math.max(commands.length, 1)),
      wrongLabel: count('wrong-label'), duplicates: count('duplicate'), elsewhere: count('false-alarm'),
      falseAlarms, falseAlarmsPerMinute: round(falseAlarms / minutes),
    };
  };

  const events = detect(opts.threshold, opts.thresholds);
  const j = judge(events);
  const perLabel: StreamEvaluationReport['perLabel'] = {};
  commands.forEach((c, i) => {
    const p = (perLabel[c.label] ??= { said: 0, found: 0 });
    p.said++;
    if (j.hit[i]) p.found++;
  });
  const sweep = new Map<number, StreamScore>();
  const at = (t: number): StreamScore => {
    let s = sweep.get(t);
    if (!s) {
      const ev = detect(t);
      s = score(t, ev, judge(ev));
      sweep.set(t, s);
    }
    return s;
  };
  return {
    ...score(opts.threshold, events, j),
    minutes: round(minutes),
    smoothFrames: opts.smoothFrames,
    refractoryMs: opts.refractoryMs,
    peakFrames: opts.peakFrames,
    warmupMs,
    toleranceMs,
    perLabel,
    events: events.map((e, i) => ({ ...e, ...j.verdicts[i]! })),
    missed: commands.filter((_, i) => !j.hit[i]).map((c) => ({ label: c.label, start_ms: c.start_ms, end_ms: c.end_ms })),
    det: detSweep((t) => 1 - at(t).foundRate, (t) => at(t).falseAlarms, minutes / 60),
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
