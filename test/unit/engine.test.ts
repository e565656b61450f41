import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { firstValueFrom, take, toArray } from 'rxjs';
import { Engine, type EngineOptions } from '../../runtime/engine/engine.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { availableTiers } from '../../runtime/kernels/registry.js';
import type { Model } from '../../runtime/model/model.js';
import type { NpyArray } from '../../runtime/io/npy.js';
import { frameOf, goldenInput, goldenModel, goldenModelBytes } from '../helpers/golden_model.js';

/** Streams of different lengths and offsets into the golden input, joining at different ticks. */
interface Plan { b: number; off: number; len: number; start: number }
const PLAN: Plan[] = [
  { b: 0, off: 0, len: 128, start: 0 },
  { b: 1, off: 3, len: 40, start: 5 },
  { b: 0, off: 10, len: 3, start: 7 },
  { b: 1, off: 0, len: 100, start: 20 },
  { b: 0, off: 50, len: 1, start: 21 },
  { b: 1, off: 60, len: 6, start: 21 },
  { b: 0, off: 7, len: 64, start: 64 },
];

function loneSession(model: Model, input: NpyArray, p: Plan): Float32Array[] {
  const s = model.createSession();
  const outs: Float32Array[] = [];
  for (let t = 0; t < p.len; t++) outs.push(...s.push(frameOf(input, p.b, p.off + t)));
  outs.push(...s.flush());
  return outs;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Drive an engine through PLAN (yielding every few ticks so batches form and drain); collect every stream's outputs. */
async function runPlan(engine: Engine, input: NpyArray): Promise<{ outs: Float32Array[][]; tails: Float32Array[][] }> {
  const outs: Float32Array[][] = PLAN.map(() => []);
  const tails: Float32Array[][] = PLAN.map(() => []);
  engine.onOutput((o) => {
    const i = Number(o.stream.slice(1));
    assert.equal(o.index, outs[i]!.length, `stream ${o.stream}: outputs arrive in order`);
    outs[i]!.push(o.values);
  });
  const closing: Promise<void>[] = [];
  for (let tick = 0; tick < 200; tick++) {
    PLAN.forEach((p, i) => {
      const id = `s${i}`;
      if (tick === p.start) engine.open(id);
      const t = tick - p.start;
      if (t >= 0 && t < p.len) engine.push(id, frameOf(input, p.b, p.off + t));
      if (t === p.len) closing.push(engine.close(id).then((s) => { tails[i] = s.tail; assert.equal(s.framesIn, p.len); assert.equal(s.dropped, 0); }));
    });
    if (tick % 3 === 0) await turn();
  }
  await Promise.all(closing);
  return { outs, tails };
}

async function assertSameAsSessions(set: string, options: EngineOptions): Promise<void> {
  const backend = options.backend ?? 'js';
  const model = await goldenModel(set, { backend });
  const input = goldenInput(set);
  const engine = await Engine.create(options.workers ? goldenModelBytes(set) : model, { maxBatch: 4, queueFrames: 256, ...options });
  try {
    const { outs, tails } = await runPlan(engine, input);
    PLAN.forEach((p, i) => {
      const ref = loneSession(model, input, p);
      assert.equal(outs[i]!.length, p.len, `stream ${i}: one output per frame`);
      assert.deepEqual(outs[i], ref, `stream ${i} (${p.len} frames from tick ${p.start}) differs from a lone Session`);
      assert.deepEqual(tails[i], ref.slice(ref.length - tails[i]!.length), `stream ${i}: close() returns the flushed tail`);
    });
    const stats = await engine.stats();
    assert.equal(stats.framesStepped, PLAN.reduce((a, p) => a + p.len, 0));
    assert.ok(stats.meanBatch > 1, `streams were batched (mean batch ${stats.meanBatch})`);
    assert.ok(stats.batchSizes.length === 5 && stats.batchSizes[0] === 0);
    assert.equal(stats.streams, 0);
  } finally {
    await engine.dispose();
  }
}

describe('Engine: every stream gets exactly what a lone Session gives', () => {
  for (const set of ['lmu_rnn_conv1d-d64', 'slmu_rnn_ms_conv1d-d64', 'lmu_rnn_conv1d-d64-depth2']) {
    for (const tier of availableTiers()) {
      it(`${set} on ${tier}, in-thread, streams joining and leaving`, () => assertSameAsSessions(set, { backend: tier }));
    }
  }
  it('slmu_rnn_conv1d-d256 on onnx (batched step graph), in-thread', () => assertSameAsSessions('slmu_rnn_conv1d-d256', { backend: 'onnx' }));
  it('slmu_rnn_ms_conv1d-d64 sharded over 2 worker threads (js)', () => assertSameAsSessions('slmu_rnn_ms_conv1d-d64', { backend: 'js', workers: 2 }));
  it('lmu_rnn_conv1d-d64 in a worker on onnx', () => assertSameAsSessions('lmu_rnn_conv1d-d64', { backend: 'onnx', workers: 1 }));
});

describe('Engine: queues, snapshots, errors', () => {
  const set = 'slmu_rnn_ms_conv1d-d64';

  it('a full queue drops the oldest frames and counts them; the stream continues on the newest', async () => {
    const model = await goldenModel(set);
    const input = goldenInput(set);
    const engine = await Engine.create(model, { queueFrames: 4 });
    const got: Float32Array[] = [];
    engine.onOutput((o) => got.push(o.values));
    engine.open('a');
    // Pushed in one turn: the in-thread engine steps only after it, so 6 of the 10 are dropped.
    for (let t = 0; t < 10; t++) engine.push('a', frameOf(input, 0, t));
    const info = await engine.info('a');
    assert.equal(info.dropped, 6);
    assert.equal(info.queued, 4);
    const stats = await engine.stats();
    assert.equal(stats.dropped, 6);
    assert.equal(stats.framesIn, 10);
    const summary = await engine.close('a');
    assert.equal(summary.dropped, 6);
    assert.equal(summary.framesIn, 4);
    assert.equal(summary.framesOut, 4);
    assert.deepEqual(got, loneSession(model, input, { b: 0, off: 6, len: 4, start: 0 }));
    await engine.dispose();
  });

  it('snapshot in the engine → restore in a Session, and Session snapshot → engine, continue identically', async () => {
    const model = await goldenModel(set);
    const input = goldenInput(set);
    const ref = loneSession(model, input, { b: 1, off: 0, len: 80, start: 0 });
    for (const workers of [0, 1]) {
      const engine = await Engine.create(workers ? goldenModelBytes(set) : model, { workers, backend: 'js', queueFrames: 64 });
      const got: Float32Array[] = [];
      engine.onOutput((o) => { if (o.stream === 'x') got.push(o.values); });
      engine.open('x');
      for (let t = 0; t < 30; t++) engine.push('x', frameOf(input, 1, t));
      const snap = await engine.snapshot('x');
      // Continue in a lone session.
      const s = model.restoreSession(snap);
      assert.equal(s.framesIn, 30);
      const cont: Float32Array[] = [...got];
      for (let t = 30; t < 80; t++) cont.push(...s.push(frameOf(input, 1, t)));
      cont.push(...s.flush());
      assert.deepEqual(cont, ref, `workers ${workers}: engine snapshot continued in a Session`);
      // A session snapshot opens a stream in the engine.
      const s2 = model.createSession();
      const pre: Float32Array[] = [];
      for (let t = 0; t < 45; t++) pre.push(...s2.push(frameOf(input, 1, t)));
      const from: Float32Array[] = [];
      engine.onOutput((o) => { if (o.stream === 'y') from.push(o.values); });
      engine.open('y', { snapshot: s2.snapshot() });
      for (let t = 45; t < 80; t++) engine.push('y', frameOf(input, 1, t));
      await engine.close('y');
      assert.deepEqual([...pre, ...from], ref, `workers ${workers}: Session snapshot continued in the engine`);
      await engine.close('x');
      await engine.dispose();
    }
  });

  it('bad input: clear errors, and the stream is unaffected', async () => {
    const model = await goldenModel(set);
    const input = goldenInput(set);
    const other = await goldenModel('lmu_rnn_conv1d-d64');
    const engine = await Engine.create(model);
    engine.open('a');
    assert.throws(() => engine.open('a'), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
    assert.throws(() => engine.open(''), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
    assert.throws(() => engine.push('nope', frameOf(input, 0, 0)), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
    assert.throws(() => engine.push('a', new Float32Array(3)), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
    assert.throws(() => engine.push('a', new Float32Array(128).fill(Number.NaN)), (e) => isEdgestreamError(e, 'E_NONFINITE_INPUT'));
    assert.throws(() => engine.open('b', { snapshot: other.createSession().snapshot() }), (e) => isEdgestreamError(e, 'E_SNAPSHOT'));
    assert.throws(() => engine.open('c', { snapshot: new Uint8Array(100) }), (e) => isEdgestreamError(e, 'E_SNAPSHOT'));
    await assert.rejects(engine.close('nope'), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
    for (let t = 0; t < 12; t++) engine.push('a', frameOf(input, 0, t));
    const closed = engine.close('a');
    assert.throws(() => engine.push('a', frameOf(input, 0, 0)), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
    assert.equal((await closed).framesOut, 12);
    await assert.rejects(Engine.create(model, { workers: 1 }), (e) => isEdgestreamError(e, 'E_CONFIG'));
    await assert.rejects(Engine.create(model, { maxBatch: 0 }), (e) => isEdgestreamError(e, 'E_CONFIG'));
    await engine.dispose();
    assert.throws(() => engine.open('z'), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
  });

  it('outputs() is an Observable of one stream', async () => {
    const model = await goldenModel(set);
    const input = goldenInput(set);
    const engine = await Engine.create(model);
    const first = firstValueFrom(engine.outputs('b').pipe(take(3), toArray()));
    engine.open('a');
    engine.open('b');
    for (let t = 0; t < 10; t++) { engine.push('a', frameOf(input, 0, t)); engine.push('b', frameOf(input, 1, t)); }
    const outs = await first;
    assert.deepEqual(outs.map((o) => [o.stream, o.index]), [['b', 0], ['b', 1], ['b', 2]]);
    assert.deepEqual(outs.map((o) => o.values), loneSession(model, input, { b: 1, off: 0, len: 10, start: 0 }).slice(0, 3));
    await engine.dispose();
  });

  it('memory stays flat over a long bounded run with streams joining and leaving', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const model = await goldenModel('lmu_rnn_conv1d-d64');
    const input = goldenInput('lmu_rnn_conv1d-d64');
    const engine = await Engine.create(model, { maxBatch: 8, queueFrames: 64 });
    let outputs = 0;
    engine.onOutput(() => { outputs++; });
    const ids = Array.from({ length: 8 }, (_, i) => `s${i}`);
    ids.forEach((id) => engine.open(id));
    const heap: number[] = [];
    for (let round = 0; round < 60; round++) {
      for (let t = 0; t < 32; t++) for (const id of ids) engine.push(id, frameOf(input, t % 2, (round * 32 + t) % 128));
      while ((await engine.stats()).queued > 0) await turn();
      const i = round % ids.length;
      await engine.close(ids[i]!);
      ids[i] = `r${round}`;
      engine.open(ids[i]!);
      if (round % 10 === 9) { gc(); heap.push(process.memoryUsage().heapUsed); }
    }
    await engine.dispose();
    assert.ok(outputs >= 60 * 32 * 8 - 8 * 5, `outputs ${outputs}`);
    const growth = heap[heap.length - 1]! - heap[1]!;
    assert.ok(growth < 2 << 20, `heap grew by ${growth} bytes between ${heap.map((h) => (h / 2 ** 20).toFixed(1)).join(', ')} MiB`);
  });
});
