import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { BehaviorSubject, firstValueFrom, from, toArray } from 'rxjs';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { KeywordDetector } from '../../runtime/decisions/keyword_detector.js';
import type { KeywordSpotter } from '../../runtime/tasks/keyword_spotter.js';
import { resolveDecisionOptions } from '../../runtime/decisions/options.js';
import { WindowedScorer, type ScoredFrame } from '../../runtime/decisions/windowed_scorer.js';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, KeywordOutput, PcmFormat } from '../../runtime/operators/types.js';
import { f32le, s16le, testSignal } from '../helpers/audio_signal.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';

/** Cut bytes into chunks of `size` bytes (the last may be shorter), as a device would publish them. */
function chunked(bytes: Uint8Array, size: number, format: PcmFormat, extra: Partial<AudioChunk> = {}): AudioChunk[] {
  const out: AudioChunk[] = [];
  for (let o = 0, seq = 0; o < bytes.length; o += size, seq++) out.push({ device: 'd', kind: 'chunk', data: bytes.subarray(o, o + size), format, seq, ...extra });
  return out;
}

/**
 * What the spotter gives on the whole recording's features, frame by frame (the offline reference);
 * events whose audio ends before `warmupMs` are held back, as the pipeline does at a stream's start.
 */
function offline(model: Model, frames: Float32Array[], options: ConstructorParameters<typeof KeywordSpotter>[1], warmupMs = 0): { scores: Float32Array[]; events: string[]; heldBack: string[] } {
  // The spotter's own parts, so that the flushed tail's scores are visible too.
  const opts = resolveDecisionOptions(options, model);
  const scorer = new WindowedScorer(model, { ...(opts.windowFrames !== undefined && { windowFrames: opts.windowFrames }), minFrames: opts.minFrames });
  const detector = new KeywordDetector(model.labels, opts);
  const scores: Float32Array[] = [];
  const events: string[] = [];
  const heldBack: string[] = [];
  const take = (r: ScoredFrame | null): void => {
    if (!r) return;
    scores.push(r.scores);
    const e = detector.push(r.frame, r.scores, r.span);
    if (e) (e.end_ms < warmupMs ? heldBack : events).push(`${e.label}@${e.end_ms}`);
  };
  for (const f of frames) take(scorer.push(f));
  for (const r of scorer.flush()) take(r);
  return { scores, events, heldBack };
}

function framesOf(audio: Float32Array, model: Model, inputRate: number): Float32Array[] {
  const m = computeFeatures(audio, model.frontend!, { inputRate });
  return Array.from({ length: m.frames }, (_, t) => m.data.subarray(t * m.featureSize, (t + 1) * m.featureSize));
}

async function run(model: Model, chunks: AudioChunk[], options: Parameters<typeof keywordSpotting>[1]): Promise<KeywordOutput[]> {
  return firstValueFrom(from(chunks).pipe(keywordSpotting(model, options), toArray()));
}

const decision = { threshold: 0.3, refractoryMs: 300, smoothFrames: 2 };

describe('keywordSpotting (decode → resample → features → spot)', () => {
  let model: Model;
  before(async () => {
    // Equivalence of the streaming pipeline with the offline computation needs no trained weights.
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 32, seed: 11 }).bytes, { backend: 'js' });
  });

  it('gives exactly the offline scores and events whatever the chunking (odd byte splits included), none in the start warm-up', async () => {
    const audio = testSignal(16000);
    const ref = offline(model, framesOf(audio, model, 16000), decision);
    assert.ok(ref.scores.length > 200);
    const fmt: PcmFormat = { encoding: 's16le', rate: 16000, channels: 1 };
    // The reference goes through s16 quantisation too: decode the same bytes.
    const bytes = s16le(audio);
    const quantised = Float32Array.from({ length: audio.length }, (_, i) => new DataView(bytes.buffer).getInt16(i * 2, true) / 32768);
    const refQ = offline(model, framesOf(quantised, model, 16000), decision, 1000); // keywordSpotting's default warm-up
    for (const size of [640, 1001]) {
      const out = await run(model, chunked(bytes, size, fmt), { decision, emitScores: true });
      const scores = out.filter((o) => o.type === 'scores').map((o) => (o.type === 'scores' ? o.scores.scores : null));
      const events = out.filter((o) => o.type === 'keyword').map((o) => (o.type === 'keyword' ? `${o.event.label}@${o.event.end_ms}` : ''));
      assert.equal(scores.length, refQ.scores.length, `chunk ${size}`);
      scores.forEach((s, i) => assert.deepEqual(s, refQ.scores[i], `chunk ${size}, scored frame ${i}`));
      assert.deepEqual(events, refQ.events, `chunk ${size}`);
    }
    assert.ok(refQ.events.length > 0, 'the test needs some events to compare');
    assert.ok(refQ.heldBack.length > 0, 'the test signal should trigger an event in the first second, which the warm-up holds back');
  });

  it('48 kHz f32le stereo: first channel, resampled, same as the offline front end at 48 kHz', async () => {
    const audio = testSignal(48000, 2, 2);
    const ref = offline(model, framesOf(audio, model, 48000), decision);
    const fmt: PcmFormat = { encoding: 'f32le', rate: 48000, channels: 2 };
    const out = await run(model, chunked(f32le(audio, 2), 48 * 20 * 8, fmt), { decision, emitScores: true });
    const scores = out.flatMap((o) => (o.type === 'scores' ? [o.scores.scores] : []));
    // The streaming resampler holds back its look-ahead until the stream ends: the offline run
    // (which flushes) has a few more frames at the end; every frame both have is identical.
    assert.ok(scores.length > 100 && scores.length <= ref.scores.length && scores.length >= ref.scores.length - 3, `${scores.length} vs ${ref.scores.length}`);
    scores.forEach((s, i) => assert.deepEqual(s, ref.scores[i], `scored frame ${i}`));
  });

  it('events carry stream times from the chunk timestamps, a stable id and the chunk seq', async () => {
    const audio = testSignal(16000);
    const fmt: PcmFormat = { encoding: 's16le', rate: 16000, channels: 1 };
    const chunks = chunked(s16le(audio), 640, fmt).map((c, i) => ({ ...c, device: 'kitchen', timestampMs: 50_000 + i * 20 }));
    const out = await run(model, chunks, { decision });
    const events = out.flatMap((o) => (o.type === 'keyword' ? [o.event] : []));
    assert.ok(events.length > 0);
    for (const e of events) {
      assert.ok(e.start_ms >= 50_000 && e.end_ms > e.start_ms, JSON.stringify(e));
      assert.equal(e.id, `kitchen-${e.start_ms}`);
      assert.equal(e.device, 'kitchen');
      assert.equal(e.event_type, e.label);
      // The deciding frame ends at end_ms; the chunk that completed it started at most one chunk (+ the model delay) later.
      const chunkStart = 50_000 + e.seq! * 20;
      assert.ok(chunkStart <= e.end_ms + model.delay * 10 + 20 && chunkStart >= e.end_ms - 40, `seq ${e.seq} vs end ${e.end_ms}`);
    }
  });

  it('a gap restarts the state: the rest scores like a fresh stream, and the warm-up holds events back', async () => {
    const audio = testSignal(16000, 3, 3);
    const fmt: PcmFormat = { encoding: 's16le', rate: 16000, channels: 1 };
    const chunks = chunked(s16le(audio), 640, fmt);
    const cut = 50; // chunk 50 (1 s) arrives after a gap
    chunks[cut] = { ...chunks[cut]!, gap: true };
    const out = await run(model, chunks, { decision, emitScores: true, warmupMs: 800 });
    const after = chunks.slice(cut).map((c) => ({ ...c, gap: false }));
    const fresh = await run(model, after, { decision, emitScores: true, warmupMs: 0 });
    const tail = (o: KeywordOutput[]): Float32Array[] => o.flatMap((x) => (x.type === 'scores' ? [x.scores.scores] : []));
    const freshScores = tail(fresh);
    const outScores = tail(out);
    assert.deepEqual(outScores.slice(outScores.length - freshScores.length), freshScores);
    const lateEvents = out.flatMap((o) => (o.type === 'keyword' && o.event.end_ms >= 1000 ? [o.event] : []));
    for (const e of lateEvents) assert.ok(e.end_ms - 1000 >= 800, `event at ${e.end_ms} inside the warm-up`);
    // Without the warm-up the fresh stream does fire inside that window: the suppression did something.
    const early = fresh.flatMap((o) => (o.type === 'keyword' && o.event.end_ms < 800 ? [o.event] : []));
    assert.ok(early.length > 0, 'the test signal should trigger an event early in the restarted stream');
  });

  it('threshold$ changes thresholds on the running stream', async () => {
    const audio = testSignal(16000);
    const fmt: PcmFormat = { encoding: 's16le', rate: 16000, channels: 1 };
    const strict = await run(model, chunked(s16le(audio), 640, fmt), { decision, threshold$: new BehaviorSubject<number | null>(0.999) });
    const loose = await run(model, chunked(s16le(audio), 640, fmt), { decision, threshold$: new BehaviorSubject<number | null>(0.0) });
    assert.equal(strict.length, 0);
    assert.ok(loose.length > 0);
    assert.ok(loose.every((o) => o.type === 'keyword' && o.event.threshold === 0));
  });
});
