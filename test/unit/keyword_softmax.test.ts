import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyFrames } from '../../runtime/decisions/clip_classifier.js';
import { evaluateClips } from '../../runtime/decisions/evaluate.js';
import { logitsToScores } from '../../runtime/decisions/scores.js';
import { WindowedScorer } from '../../runtime/decisions/windowed_scorer.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { decodeModelFile } from '../../runtime/model/model_file.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { Random } from '../../runtime/util/random.js';
import { withMetadata } from '../helpers/model_metadata.js';

const LABELS12 = ['_silence_', '_unknown_', 'yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'];

function frames(n: number, seed: number): Float32Array[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () => r.fill(128, (x) => 0.3 * x.normal()));
}

async function model12(activation: 'softmax' | 'sigmoid' = 'softmax', threshold = 0.3) {
  const base = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, classes: 12, seed: 3 }).bytes;
  return loadModel(withMetadata(base, { labels: LABELS12, decision: { activation, threshold } }), { backend: 'js' });
}

describe('scores from logits', () => {
  it('softmax: probabilities over all labels (sum 1, order kept, no overflow); sigmoid: each label alone', () => {
    const logits = Float32Array.from([2, -1, 0.5, 800]);
    const p = logitsToScores(logits, 'softmax');
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.ok(p[3]! > 0.999 && p.every(Number.isFinite));
    const q = logitsToScores(Float32Array.from([2, -1, 0.5]), 'softmax');
    const e = [Math.exp(2), Math.exp(-1), Math.exp(0.5)];
    const z = e[0]! + e[1]! + e[2]!;
    q.forEach((v, i) => assert.ok(Math.abs(v - e[i]! / z) < 1e-6));
    const s = logitsToScores(Float32Array.from([0, 2]), 'sigmoid');
    assert.ok(Math.abs(s[0]! - 0.5) < 1e-7 && Math.abs(s[1]! - 1 / (1 + Math.exp(-2))) < 1e-7);
  });
});

describe('softmax keyword models (12 classes with _unknown_ and _silence_)', () => {
  it('the activation is stored in the model file and validated', async () => {
    const m = await model12();
    assert.equal(m.decision.activation, 'softmax');
    const bad = withMetadata(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, classes: 12 }).bytes, { labels: LABELS12 });
    const meta = decodeModelFile(bad).metadata;
    assert.equal(meta.decision, undefined);
    assert.throws(() => decodeModelFile(withMetadata(bad, { decision: { activation: 'relu' as 'softmax' } })), /E_MODEL_FORMAT|metadata field decision/);
  });

  it('windowed scores are softmax probabilities of the same logits', async () => {
    const m = await model12();
    const scorer = new WindowedScorer(m, { windowFrames: 64, minFrames: 8 });
    const session = m.createSession({ headWindow: 64 });
    const input = frames(90, 1);
    let k = 0;
    for (const f of input) {
      const r = scorer.push(f);
      const outs = session.push(f);
      if (!r) continue;
      k++;
      assert.ok(Math.abs(r.scores.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      assert.deepEqual(r.scores, logitsToScores(outs[0]!, 'softmax'));
    }
    assert.ok(k > 50);
  });

  it('a stored stream window (streamWindowFrames) sets the head window of streams only; clips and explicit windows are as before', async () => {
    const base = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, classes: 12, seed: 3 }).bytes;
    const plain = await loadModel(withMetadata(base, { labels: LABELS12, decision: { activation: 'softmax' } }), { backend: 'js' });
    const short = await loadModel(withMetadata(base, { labels: LABELS12, decision: { activation: 'softmax', streamWindowFrames: 40 } }), { backend: 'js' });
    assert.equal(new WindowedScorer(plain).windowFrames, 128, 'default: the training clip length');
    assert.equal(new WindowedScorer(short).windowFrames, 40);
    assert.equal(new WindowedScorer(short, { windowFrames: 64 }).windowFrames, 64, 'an explicit window wins');
    const scores = (m: typeof plain) => {
      const s = new WindowedScorer(m, { minFrames: 8 });
      return frames(120, 4).map((f) => s.push(f)).filter((r) => r !== null).map((r) => Array.from(r!.scores));
    };
    const a = scores(plain);
    const b = scores(short);
    assert.deepEqual(a.slice(0, 33), b.slice(0, 33), 'the same while both windows hold every frame so far');
    assert.notDeepEqual(a.at(-1), b.at(-1), 'a shorter window once the stream is longer');
    const clip = frames(98, 5);
    assert.deepEqual(classifyFrames(short, clip).scores, classifyFrames(plain, clip).scores, 'clips are padded to the clip length either way');
    assert.throws(() => decodeModelFile(withMetadata(base, { decision: { streamWindowFrames: 4 } })), /E_MODEL_FORMAT|streamWindowFrames/);
  });

  it('a stored clip threshold (clipThreshold) decides whole clips in classify and eval; streams, long recordings and explicit thresholds are as before', async () => {
    const base = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, classes: 12, seed: 3 }).bytes;
    // The stream bar (threshold 1 with a per-label 0.99) accepts no clip; the clip bar (0) accepts every keyword answer.
    const decision = { activation: 'softmax' as const, threshold: 1, thresholds: { yes: 0.99 } };
    const plain = await loadModel(withMetadata(base, { labels: LABELS12, decision }), { backend: 'js' });
    const clipped = await loadModel(withMetadata(base, { labels: LABELS12, decision: { ...decision, clipThreshold: 0 } }), { backend: 'js' });
    let keywordAnswers = 0;
    for (let seed = 0; seed < 30; seed++) {
      const clip = frames(100, 200 + seed);
      const a = classifyFrames(plain, clip);
      const b = classifyFrames(clipped, clip);
      assert.deepEqual(b.scores, a.scores, 'the same scores');
      assert.equal(b.label, a.label);
      assert.equal(a.detected, false, 'the stream bar of 1 accepts nothing');
      assert.equal(b.detected, !b.label.startsWith('_'), 'at clip threshold 0 every keyword answer is detected');
      if (b.detected) keywordAnswers++;
      assert.equal(classifyFrames(clipped, clip, { threshold: 1 }).detected, false, 'an explicit threshold wins');
    }
    assert.ok(keywordAnswers > 0, 'some clips answered with a keyword');
    // A recording longer than a clip is scanned like a stream, with the stream thresholds.
    const long = frames(400, 7);
    assert.equal(classifyFrames(clipped, long).detected, classifyFrames(plain, long).detected);
    const clips = Array.from({ length: 20 }, (_, i) => ({ label: ['yes', 'no', 'bed', 'go'][i % 4]!, frames: frames(98, 300 + i) }));
    const e = evaluateClips(clipped, clips);
    assert.equal(e.threshold, 0);
    assert.equal(e.detectionRate, e.top1, 'at 0 every right answer is detected');
    assert.equal(evaluateClips(plain, clips).detectionRate, 0);
    assert.throws(() => decodeModelFile(withMetadata(base, { decision: { clipThreshold: 1.5 } })), /E_MODEL_FORMAT|clipThreshold/);
  });

  it('decision options out of range are E_CONFIG naming the field (the library boundary)', async () => {
    const m = await model12();
    assert.throws(() => classifyFrames(m, frames(50, 1), { threshold: 2 }), /E_CONFIG|decision options: threshold: .*<=1/);
    assert.throws(() => classifyFrames(m, frames(50, 1), { smoothFrames: 0 }), (e: unknown) => (e as { code?: string }).code === 'E_CONFIG');
  });

  it('classify: the answer is the top label of all 12 (it may be _unknown_/_silence_); only keywords at threshold are detected', async () => {
    const m = await model12('softmax', 0.3);
    let sawNonEvent = false;
    let sawKeyword = false;
    for (let seed = 0; seed < 40; seed++) {
      const r = classifyFrames(m, frames(100, seed));
      const top = Object.entries(r.scores).reduce((a, b) => (b[1] > a[1] ? b : a));
      assert.equal(r.label, top[0], 'the answer is the top-scoring label');
      assert.equal(r.score, top[1]);
      const keyword = !r.label.startsWith('_');
      assert.equal(r.detected, keyword && r.score >= 0.3);
      if (keyword) sawKeyword = true;
      else sawNonEvent = true;
      assert.ok(Math.abs(Object.values(r.scores).reduce((a, b) => a + b, 0) - 1) < 1e-3);
    }
    assert.ok(sawKeyword || sawNonEvent);
  });

  it('eval: 12-class accuracy, confusion rows for _unknown_ and _silence_, false accepts per hour, a monotone DET curve', async () => {
    const m = await model12('softmax', 0.2);
    const clips = Array.from({ length: 30 }, (_, i) => ({
      label: ['yes', 'no', 'bed', '_silence_', 'go'][i % 5]!, frames: frames(98, 100 + i), name: `c${i}`,
    }));
    const r = evaluateClips(m, clips);
    assert.equal(r.keywordClips, 18);
    assert.equal(r.negativeClips, 12);
    assert.notEqual(r.accuracy, null);
    assert.ok(r.confusion._unknown_, 'bed counts as _unknown_');
    assert.ok(r.confusion._silence_);
    const rows = Object.values(r.confusion).reduce((a, row) => a + Object.values(row).reduce((x, y) => x + y, 0), 0);
    assert.equal(rows, 30);
    assert.ok(Math.abs(r.negativeHours - 12 * 0.98 / 3600) < 1e-4);
    assert.equal(r.falseAcceptsPerHour, Math.round((r.falseAcceptRate * 12 / r.negativeHours) * 1e4) / 1e4);
    for (let i = 1; i < r.det.length; i++) {
      assert.ok(r.det[i]!.missRate >= r.det[i - 1]!.missRate, 'misses grow with the threshold');
      assert.ok(r.det[i]!.falseAccepts <= r.det[i - 1]!.falseAccepts, 'false accepts fall with the threshold');
    }
    const at = r.det.find((p) => p.threshold === 0.2)!;
    assert.equal(at.falseAccepts, Math.round(r.falseAcceptRate * 12));
    assert.equal(at.missRate, Math.round((1 - r.detectionRate) * 1e4) / 1e4);
  });
});
