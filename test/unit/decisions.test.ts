import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeywordDetector } from '../../runtime/decisions/keyword_detector.js';
import { resolveDecisionOptions } from '../../runtime/decisions/options.js';
import { WindowedScorer } from '../../runtime/decisions/windowed_scorer.js';
import { classifyFrames } from '../../runtime/decisions/clip_classifier.js';
import { sigmoid } from '../../runtime/layers/activations.js';
import { frameOf, goldenInput, goldenModel } from '../helpers/golden_model.js';

const LABELS = ['yes', 'no', '_unknown_'];

function run(detector: KeywordDetector, series: number[][]): { frame: number; label: string }[] {
  const out: { frame: number; label: string }[] = [];
  series.forEach((s, t) => {
    const e = detector.push(t, s, 50);
    if (e) out.push({ frame: e.frame, label: e.label });
  });
  return out;
}

describe('KeywordDetector', () => {
  it('fires once on the rising edge, re-arms only below threshold − hysteresis', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, hysteresis: 0.2, refractoryMs: 0 }));
    const yes = [0.1, 0.6, 0.9, 0.45, 0.55, 0.2, 0.7, 0.1];
    const events = run(d, yes.map((v) => [v, 0, 0]));
    // 0.45 is not low enough to re-arm (0.5 − 0.2 = 0.3), 0.2 is.
    assert.deepEqual(events, [{ frame: 1, label: 'yes' }, { frame: 6, label: 'yes' }]);
  });

  it('a threshold below the hysteresis still re-arms (half the threshold below it); threshold 0 fires at the refractory rate', () => {
    const low = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.1, smoothFrames: 1, hysteresis: 0.1, refractoryMs: 0 }));
    const yes = [0.2, 0.06, 0.2, 0.04, 0.2];
    // 0.06 is not below 0.1 − min(0.1, 0.05) = 0.05; 0.04 is. (Without the cap the label would wait for a score below 0.)
    assert.deepEqual(run(low, yes.map((v) => [v, 0, 0])), [{ frame: 0, label: 'yes' }, { frame: 4, label: 'yes' }]);
    const zero = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0, smoothFrames: 1, refractoryMs: 100 }), { shift: 10, length: 25 });
    const events = run(zero, Array.from({ length: 100 }, () => [0.3, 0.2, 0]));
    assert.deepEqual(events.map((e) => e.frame), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('peakFrames: waits after the first crossing and reports the label that peaked highest; flush decides what is pending', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, refractoryMs: 0, peakFrames: 3 }));
    // "no" crosses first (an onset), "yes" overtakes it within the 3 frames: one event, "yes", at its peak.
    const series = [[0.1, 0.6, 0], [0.55, 0.6, 0], [0.9, 0.2, 0], [0.7, 0.1, 0], [0.2, 0, 0], [0, 0, 0]];
    const got: { frame: number; label: string; end_ms: number }[] = [];
    series.forEach((s, t) => { const e = d.push(t, s, 50); if (e) got.push({ frame: e.frame, label: e.label, end_ms: e.end_ms }); });
    assert.deepEqual(got, [{ frame: 3, label: 'yes', end_ms: 2 * 10 + 25 }], 'decided 3 frames after the crossing, timed at the peak');
    const plain = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, refractoryMs: 0 }));
    assert.deepEqual(run(plain, series), [{ frame: 0, label: 'no' }, { frame: 1, label: 'yes' }], 'without it: the onset fires');
    const cut = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, refractoryMs: 0, peakFrames: 10 }));
    assert.equal(cut.push(0, [0.8, 0, 0], 50), null);
    assert.equal(cut.flush(1)?.label, 'yes', 'the end of the stream decides a pending peak');
    assert.equal(cut.flush(2), null);
  });

  it('the refractory period suppresses any label right after an event', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, hysteresis: 0, refractoryMs: 100 }));
    const series = Array.from({ length: 30 }, (_, t) => (t === 2 ? [0.9, 0, 0] : t === 8 ? [0, 0.9, 0] : t === 20 ? [0, 0.9, 0] : [0, 0, 0]));
    assert.deepEqual(run(d, series), [{ frame: 2, label: 'yes' }, { frame: 20, label: 'no' }]);
  });

  it('smoothing ignores a one-frame blip; per-label thresholds and ignored labels apply', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, thresholds: { no: 0.95 }, smoothFrames: 3, refractoryMs: 0 }));
    const series = [[0.9, 0.9, 0.99], [0, 0.9, 0.99], [0, 0.9, 0.99], [0, 0.9, 0.99]];
    assert.deepEqual(run(d, series), []); // 'yes' blip averages to 0.3; 'no' never reaches 0.95; '_unknown_' is ignored
    const e = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 3, refractoryMs: 0 }));
    assert.deepEqual(run(e, [[0.9, 0, 0], [0.9, 0, 0], [0.9, 0, 0]]), [{ frame: 1, label: 'yes' }]);
  });

  it('NaN scores count as 0 and the event carries stream times', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ smoothFrames: 1, refractoryMs: 0 }), { shift: 10, length: 25 });
    assert.equal(d.push(0, [Number.NaN, 0, 0], 10), null);
    const ev = d.push(100, [0.8, 0, 0], 40)!;
    assert.equal(ev.event_type, 'yes');
    assert.equal(ev.end_ms, 100 * 10 + 25);
    assert.equal(ev.start_ms, 1025 - 40 * 10 - 25);
    assert.equal(ev.threshold, 0.5);
  });
});

describe('windowed head and WindowedScorer', () => {
  for (const set of ['lmu_rnn_conv1d-d64', 'slmu_rnn_ms_conv1d-d64']) {
    it(`${set}: a headWindow session averages the head over the last W frames only`, async () => {
      // The head is linear: W·mean(x) + b. From the official cumulative outputs c_t we get
      // W·Σ_{s≤t} x_s = (t+1)(c_t − b), hence the windowed logits (W·S_t − W·S_{t−W})/W + b.
      const model = await goldenModel(set);
      const input = goldenInput(set);
      const W = 32;
      const cum = model.createSession();
      const win = model.createSession({ headWindow: W });
      const c: Float32Array[] = [];
      const w: Float32Array[] = [];
      for (let t = 0; t < 128; t++) {
        c.push(...cum.push(frameOf(input, 0, t)));
        w.push(...win.push(frameOf(input, 0, t)));
      }
      c.push(...cum.flush());
      w.push(...win.flush());
      assert.equal(w.length, 128);
      let maxErr = 0;
      for (let t = 0; t < 128; t++) {
        for (let k = 0; k < 35; k++) {
          // sum(m) = (m+1)·c_m = W·S_m + (m+1)·b, so (sum(t) − sum(t−n))/n = (W·S_t − W·S_{t−n})/n + b.
          const sum = (m: number): number => (m < 0 ? 0 : (m + 1) * c[m]![k]!);
          const n = Math.min(t + 1, W);
          const want = (sum(t) - sum(t - n)) / n;
          maxErr = Math.max(maxErr, Math.abs(w[t]![k]! - want));
        }
      }
      assert.ok(maxErr < 2e-4, `max error ${maxErr}`);
      // Within the first W frames the windowed head is the official one.
      for (let t = 0; t < W; t++) for (let k = 0; k < 35; k++) assert.ok(Math.abs(w[t]![k]! - c[t]![k]!) < 1e-5);
    });
  }

  it('scores from minFrames on, every frame, with the span the head averaged; flush scores the look-ahead', async () => {
    const model = await goldenModel('slmu_rnn_ms_conv1d-d64');
    const input = goldenInput('slmu_rnn_ms_conv1d-d64');
    const scorer = new WindowedScorer(model, { windowFrames: 40, minFrames: 10 });
    const frames: number[] = [];
    const spans: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      for (let t = 0; t < 128; t++) {
        const r = scorer.push(frameOf(input, rep, t));
        if (r) {
          frames.push(r.frame);
          spans.push(r.span);
          assert.ok(r.scores.every((p) => p >= 0 && p <= 1));
        }
      }
    }
    for (const r of scorer.flush()) frames.push(r.frame);
    assert.equal(frames[0], 9, 'the first score averages 10 frames');
    assert.equal(spans[0], 10);
    assert.equal(spans.at(-1), 40);
    for (let i = 1; i < frames.length; i++) assert.equal(frames[i], frames[i - 1]! + 1, 'no gaps');
    assert.equal(frames.at(-1), 2 * 128 - 1, 'the flush scores the last frames');
  });
});

describe('classifyFrames', () => {
  it('pads a short clip like the official loader and scores the whole-clip logits', async () => {
    const model = await goldenModel('lmu_rnn_conv1d-d64');
    const input = goldenInput('lmu_rnn_conv1d-d64');
    const frames = Array.from({ length: 128 }, (_, t) => frameOf(input, 1, t));
    const r = classifyFrames(model, frames, { threshold: 0.0 });
    const s = model.createSession();
    let last: Float32Array | null = null;
    for (const f of frames) for (const o of s.push(f)) last = o;
    for (const o of s.flush()) last = o;
    let best = 0;
    for (let c = 1; c < 35; c++) if (last![c]! > last![best]!) best = c;
    assert.equal(r.label, model.labels[best]);
    assert.ok(Math.abs(r.score - sigmoid(last![best]!)) < 1e-4);
    assert.equal(r.detected, true);
    const strict = classifyFrames(model, frames, { threshold: 1 });
    assert.equal(strict.label, '_unknown_');
    assert.equal(strict.detected, false);
  });
});

describe('decision defaults', () => {
  it('explicit options win over the model\'s stored defaults, which win over the library default', async () => {
    const { resolveDecisionOptions, DEFAULT_THRESHOLD } = await import('../../runtime/decisions/options.js');
    const { ServiceConfigSchema } = await import('../../transports/service/config.js');
    const model = { decision: { threshold: 0.8, thresholds: { yes: 0.9, no: 0.7 } } };
    assert.equal(resolveDecisionOptions({}).threshold, DEFAULT_THRESHOLD);
    const m = resolveDecisionOptions({}, model);
    assert.equal(m.threshold, 0.8);
    assert.deepEqual(m.thresholds, { yes: 0.9, no: 0.7 });
    const o = resolveDecisionOptions({ threshold: 0.6, thresholds: { no: 0.5 } }, model);
    assert.equal(o.threshold, 0.6);
    assert.deepEqual(o.thresholds, { yes: 0.9, no: 0.5 });
    // The service's parsed default config must not pin a threshold over the model's own.
    const cfg = ServiceConfigSchema.parse({});
    assert.equal(resolveDecisionOptions(cfg.decision, model).threshold, 0.8);
  });
});
