import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFrames } from '../../models/lmuformer/conformance.js';
import { SPEECH_COMMANDS_LABELS } from '../../models/lmuformer/labels.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy } from '../../runtime/io/npy.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { ROOT } from '../helpers/paths.js';

const DEMO = join(ROOT, 'models/lmuformer/demo');
const KWS12_LABELS = ['_silence_', '_unknown_', 'yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'];
/** Each shipped model, the labels it must have, and the folder of its PyTorch reference outputs. */
const MODELS = [
  { name: 'kws12', variant: 'lmu_rnn_conv1d', spiking: false, labels: KWS12_LABELS, ref: join(ROOT, 'test/fixtures/kws12-reference') },
  { name: 'kws12-spiking', variant: 'slmu_rnn_ms_conv1d', spiking: true, labels: KWS12_LABELS, ref: join(ROOT, 'test/fixtures/kws12-reference') },
  { name: 'kws35-spiking', variant: 'slmu_rnn_ms_conv1d', spiking: true, labels: SPEECH_COMMANDS_LABELS, ref: join(ROOT, 'test/fixtures/kws-demo') },
  { name: 'kws35', variant: 'lmu_rnn_conv1d', spiking: false, labels: SPEECH_COMMANDS_LABELS, ref: join(ROOT, 'test/fixtures/kws-demo') },
];

/**
 * The shipped demo models against the outputs of the PyTorch code that trained them
 * (training/demo_golden.py: torchaudio features of held-out fixture clips → eval-mode all_seq).
 */
describe('shipped demo models', () => {
  for (const m of MODELS) {
    const file = join(DEMO, `${m.name}.safetensors`);
    it(`${m.name}: a small ${m.variant} model with its ${m.labels.length} labels in order`, async () => {
      assert.ok(existsSync(file), `${file} is missing: the package ships it (training/run.sh, training/run_synthetic.sh)`);
      const model = await loadModel(file, { backend: 'js' });
      assert.equal(model.variant, m.variant);
      assert.deepEqual([...model.labels], [...m.labels]);
      assert.equal(model.name, `lmuformer-${m.name}`);
      assert.match(model.modelVersion, /^\d+\.\d+\.\d+$/);
      assert.ok(statSync(file).size < 2_000_000, 'package-friendly size');
    });

    it(`${m.name}: streaming frame by frame reproduces the PyTorch all_seq outputs`, async () => {
      const model = await loadModel(file, { backend: 'js' });
      const input = readNpy(readFileBytes(join(m.ref, 'input.npy')));
      const expected = readNpy(readFileBytes(join(m.ref, `${m.name}.all_seq.npy`)));
      const [B, T, F] = input.shape as [number, number, number];
      const K = expected.shape[2]!;
      let framesOff = 0;
      let worst = 0;
      for (let b = 0; b < B; b++) {
        const s = model.createSession();
        const outs: Float32Array[] = [];
        for (let t = 0; t < T; t++) {
          for (const o of s.push(Float32Array.from(input.data.subarray((b * T + t) * F, (b * T + t + 1) * F)))) outs.push(Float32Array.from(o));
        }
        for (const o of s.flush()) outs.push(Float32Array.from(o));
        assert.equal(outs.length, T);
        for (let t = 0; t < T; t++) {
          let e = 0;
          for (let k = 0; k < K; k++) e = Math.max(e, Math.abs(outs[t]![k]! - expected.data[(t * B + b) * K + k]!));
          worst = Math.max(worst, e);
          if (e > 1e-4) framesOff++;
        }
        const argmax = (v: ArrayLike<number>, off: number) => {
          let best = 0;
          for (let k = 1; k < K; k++) if (v[off + k]! > v[off + best]!) best = k;
          return best;
        };
        assert.equal(argmax(outs[T - 1]!, 0), argmax(expected.data, ((T - 1) * B + b) * K), `clip ${b}: final decision`);
      }
      if (m.spiking) assert.ok(framesOff <= 0.01 * B * T, `${framesOff} of ${B * T} frames off by more than 1e-4 (spike ties allow rare flips)`);
      else assert.ok(worst <= 1e-4, `max abs error ${worst}`);
    });

    it(`${m.name}: the windowed head (headWindow 128) on a whole phrase recording reproduces PyTorch's windowed outputs`, { skip: existsSync(join(m.ref, `${m.name}.windowed.npy`)) ? false : 'no windowed reference (training/demo_golden.py, training/real_fixtures.py)' }, async () => {
      const model = await loadModel(file, { backend: 'js' });
      const input = readNpy(readFileBytes(join(m.ref, 'stream_input.npy')));
      const expected = readNpy(readFileBytes(join(m.ref, `${m.name}.windowed.npy`)));
      const [T, F] = input.shape as [number, number];
      const K = expected.shape[1]!;
      assert.equal(expected.shape[0], T);
      assert.ok(T > 2 * 128, 'the recording is longer than the window, so frames leave the window');
      const s = model.createSession({ headWindow: 128 });
      const outs: Float32Array[] = [];
      for (let t = 0; t < T; t++) outs.push(...s.push(Float32Array.from(input.data.subarray(t * F, (t + 1) * F))).map((o) => Float32Array.from(o)));
      outs.push(...s.flush().map((o) => Float32Array.from(o)));
      assert.equal(outs.length, T);
      const got = new Float32Array(T * K);
      outs.forEach((o, t) => got.set(o, t * K));
      const cmp = compareFrames(got, expected.data, T, K, 1e-4);
      const framesOff = T - cmp.framesWithin;
      if (m.spiking) assert.ok(framesOff <= 0.02 * T && cmp.argmaxMismatches <= 0.02 * T, `${framesOff} of ${T} frames off by more than 1e-4, ${cmp.argmaxMismatches} with another argmax (spike ties allow rare flips)`);
      else assert.ok(cmp.maxAbsError <= 1e-4, `max abs error ${cmp.maxAbsError}`);
    });
  }

  it('fixture clips are named <label>__<id>.wav with known labels', () => {
    const dir = join(ROOT, 'test/fixtures/kws');
    const wavs = readdirSync(dir).filter((f) => f.endsWith('.wav'));
    const labels = new Set([...SPEECH_COMMANDS_LABELS, '_unknown_', '_silence_']);
    for (const f of wavs) assert.ok(labels.has(/^(_?[a-z]+_?)__/.exec(f)?.[1] ?? ''), f);
    for (const l of SPEECH_COMMANDS_LABELS) assert.ok(wavs.some((f) => f.startsWith(`${l}__`)), `a clip for ${l}`);
    assert.ok(existsSync(join(ROOT, 'models/lmuformer/demo/sample.wav')));
  });
});
