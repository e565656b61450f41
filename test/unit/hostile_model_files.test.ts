import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isEdgestreamError, type ErrorCode } from '../../runtime/errors.js';
import { writeNpy } from '../../runtime/io/npy.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { runCli } from '../helpers/cli.js';
import { demoModelBytes, fillF32, withF32, withHeader, withMetadataJson } from '../helpers/hostile_files.js';
import { ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { tttGolden } from '../helpers/ttt_golden.js';

const rejects = (code: ErrorCode, pattern?: RegExp) => (e: unknown): boolean => {
  assert.ok(isEdgestreamError(e, code), `expected ${code}, got ${String(e)}`);
  if (pattern) assert.match((e as Error).message, pattern);
  return true;
};
const dir = tempDir();
const SAMPLE = join(ROOT, 'models/lmuformer/demo/sample.wav');

describe('model metadata: every size is bounded by what a model can use (issue 13 row 5)', () => {
  const good = demoModelBytes();
  const frontend = (edit: (f: any) => void) => withMetadataJson(good, 'frontend', edit);

  it('front-end sizes out of range are refused at load, naming the field and the range', async () => {
    const cases: [string, (f: any) => void, RegExp][] = [
      ['clipFrames 1e9', (f) => { f.clipFrames = 1e9; }, /frontend\.clipFrames must be from 1 to 10000 frames/],
      ['clipFrames 0', (f) => { f.clipFrames = 0; }, /frontend\.clipFrames must be from 1 to 10000/],
      ['sampleRate 1', (f) => { f.sampleRate = 1; }, /frontend\.sampleRate must be from 4000 to 384000 Hz/],
      ['sampleRate 1e9', (f) => { f.sampleRate = 1e9; }, /frontend\.sampleRate must be from 4000 to 384000 Hz/],
      ['melBins 1e6', (f) => { f.melBins = 1e6; }, /frontend\.melBins must be from 1 to 4096/],
      ['frameLengthMs 1e6', (f) => { f.frameLengthMs = 1e6; }, /frontend\.frameLengthMs must be from more than 0 to 1000 ms/],
      ['frameShiftMs 1e-6', (f) => { f.frameShiftMs = 1e-6; }, /frontend\.frameShiftMs must be from 1 to 1000 ms/],
      ['a window beyond 65536 samples', (f) => { f.sampleRate = 384000; f.frameLengthMs = 1000; }, /frontend\.frameLengthMs gives a window of 384000 samples.*2 to 65536/],
      ['a mel table beyond 4M entries', (f) => { f.sampleRate = 48000; f.frameLengthMs = 1000; f.melBins = 4096; }, /frontend\.melBins 4096 mel filters over 32769 FFT bins/],
      ['a mel range above Nyquist', (f) => { f.lowFreq = 1e9; }, /frontend\.highFreq mel range/],
      ['normalize.std 1e-300', (f) => { f.normalize.std = 1e-300; }, /frontend\.normalize\.std must be from 0\.000001 to 1000000/],
      ['normalize.mean 1e300', (f) => { f.normalize.mean = 1e300; }, /frontend\.normalize\.mean must be from -1000000 to 1000000/],
    ];
    for (const [name, edit, pattern] of cases) {
      await assert.rejects(loadModel(frontend(edit), { backend: 'js' }), rejects('E_MODEL_FORMAT', pattern), name);
    }
  });

  it('a front end whose frames do not fit the model input is refused at load', async () => {
    await assert.rejects(loadModel(frontend((f) => { f.melBins = 64; }), { backend: 'js' }), rejects('E_MODEL_FORMAT', /64 values per frame.*model takes 128/));
    await assert.rejects(loadModel(frontend((f) => { f.useEnergy = true; }), { backend: 'js' }), rejects('E_MODEL_FORMAT', /129 values per frame/));
  });

  it('`classify` with a model declaring clipFrames = 1e9 fails at once instead of spinning', () => {
    const model = join(dir, 'clip1e9.safetensors');
    writeFileSync(model, frontend((f) => { f.clipFrames = 1e9; }));
    const r = runCli(['classify', model, SAMPLE], { timeoutMs: 60_000 });
    assert.equal(r.status, 2, `exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /E_MODEL_FORMAT: .*frontend\.clipFrames must be from 1 to 10000 frames/);
  });

  it('config sizes are bounded: a TTT window that would give each stream gigabytes of state is refused', async () => {
    const { bytes } = tttGolden('lact_layer');
    const huge = withMetadataJson(bytes, 'config', (c) => { c.layer.window_size = 1 << 20; });
    await assert.rejects(loadModel(huge, { backend: 'js' }), rejects('E_MODEL_FORMAT', /each stream would hold 512 MiB of state.*at most/));
    const fine = withMetadataJson(bytes, 'config', (c) => { c.layer.window_size = 4096; });
    assert.ok((await loadModel(fine, { backend: 'js' })).stateBytes > 4096 * 64);
  });
});

describe('non-finite weights (issue 13 row 10)', () => {
  const good = demoModelBytes();

  it('a NaN or ±Infinity weight is refused at load, naming the tensor', async () => {
    for (const [name, index, value] of [['head.weight', 3, NaN], ['block.0.attn.lmu.W_h.weight', 0, Infinity], ['patch_embed.conv_layers.0.3.running_var', 1, -Infinity]] as const) {
      const bytes = withF32(good, name, index, value);
      await assert.rejects(loadModel(bytes, { backend: 'js' }), rejects('E_MODEL_FORMAT', new RegExp(`tensor ${name.replace(/\./g, '\\.')} holds ${value} at index ${index}`)), name);
      await assert.rejects(loadModel(bytes, { backend: 'onnx' }), rejects('E_MODEL_FORMAT', /holds/), `${name} (onnx)`);
    }
  });

  it('an F64 weight beyond float32 (finite as a double) is refused too', async () => {
    const { decodeModelFile, encodeModelFile } = await import('../../runtime/model/model_file.js');
    const file = decodeModelFile(good);
    const tensors = new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array | Float64Array }]));
    tensors.set('head.bias', { shape: [35], data: new Float64Array(35).fill(1e300) });
    const { format: _f, version: _v, ...meta } = file.metadata;
    await assert.rejects(loadModel(encodeModelFile(meta, tensors), { backend: 'js' }), rejects('E_MODEL_FORMAT', /tensor head\.bias holds 1e\+300 \(beyond float32\) at index 0/));
  });

  it('predict / classify / listen refuse a NaN-weight model (exit 2) instead of printing NaN', () => {
    const model = join(dir, 'nan.safetensors');
    writeFileSync(model, withF32(good, 'head.weight', 0, NaN));
    const features = join(dir, 'f.npy');
    writeFileSync(features, writeNpy(new Float32Array(20 * 128), [20, 128]));
    for (const args of [['predict', model, '--features', features, '--out', join(dir, 'o.npy')], ['classify', model, SAMPLE], ['listen', model, SAMPLE]]) {
      const r = runCli(args, { timeoutMs: 60_000 });
      assert.equal(r.status, 2, `${args[0]}: exit ${r.status} ${r.stdout}`);
      assert.match(r.stderr, /E_MODEL_FORMAT: .*tensor head\.weight holds NaN at index 0/, args[0]);
      assert.doesNotMatch(r.stdout, /NaN|null/, args[0]);
    }
  });

  it('finite weights that overflow to Infinity are reported, never returned as results', async () => {
    // Head weights and biases of 3e38 (finite): the logits overflow float32.
    const bytes = fillF32(fillF32(good, 'head.weight', 3e38), 'head.bias', 3e38);
    const model = await loadModel(bytes, { backend: 'js' });
    const s = model.createSession();
    const frame = new Float32Array(128).fill(1);
    assert.throws(() => { for (let t = 0; t < 50; t++) s.push(frame); }, rejects('E_NONFINITE_OUTPUT', /NaN|Infinity/));
  });
});

describe('safetensors headers: bounded before they are parsed (issue 13 row 9)', () => {
  /** A header of `n` empty tensors, as the probe built it. */
  function emptyTensors(n: number): Uint8Array {
    const parts = ['{"__metadata__":{"format":"edgestream"}'];
    for (let i = 0; i < n; i++) parts.push(`,"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    parts.push('}');
    const json = new TextEncoder().encode(parts.join(''));
    const out = new Uint8Array(8 + json.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  }

  it('more tensors than a model file holds are refused before the JSON is parsed', () => {
    assert.throws(() => readSafetensors(emptyTensors(20_000)), rejects('E_MODEL_FORMAT', /more than 16384 tensors/));
    assert.equal(readSafetensors(emptyTensors(1000)).tensors.size, 1000);
  });

  it('a header longer than 8 MiB is refused without reading it', () => {
    const b = new Uint8Array(8 + (9 << 20)).fill(0x20);
    new DataView(b.buffer).setBigUint64(0, BigInt(9 << 20), true);
    assert.throws(() => readSafetensors(b), rejects('E_MODEL_FORMAT', /header of 9437184 bytes.*at most 8388608/));
  });

  it('deeply nested or value-heavy JSON is refused (JSON.parse would build millions of objects)', () => {
    const make = (json: string) => {
      const j = new TextEncoder().encode(json);
      const out = new Uint8Array(8 + j.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
      out.set(j, 8);
      return out;
    };
    assert.throws(() => readSafetensors(make(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)), rejects('E_MODEL_FORMAT', /nested/));
    assert.throws(() => readSafetensors(make(`{"a":{"dtype":"F32","shape":[${new Array(1_000_000).fill(0).join(',')}],"data_offsets":[0,0]}}`)), rejects('E_MODEL_FORMAT', /values/));
  });

  it('duplicate tensor names are refused (JSON.parse would keep the last silently)', () => {
    const h = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const j = new TextEncoder().encode(h);
    const out = new Uint8Array(8 + j.length + 4);
    new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
    out.set(j, 8);
    assert.throws(() => readSafetensors(out), rejects('E_MODEL_FORMAT'));
  });

  it('metadata edits that keep the file valid still load (the bounds refuse nothing real)', async () => {
    const m = await loadModel(withHeader(demoModelBytes(), () => {}), { backend: 'js' });
    assert.equal(m.inputDim, 128);
  });
});

describe('ONNX step models: declared sizes are bounded before anything is allocated', () => {
  it('a state, frame or output of billions of values is refused with E_ONNX_MODEL, naming it', async () => {
    const { identityStepModel } = await import('../helpers/step_models.js');
    await assert.rejects(loadModel(identityStepModel(4, 2 ** 31), { backend: 'onnx' }), rejects('E_ONNX_MODEL', /"state" declares 2147483648 values per stream; at most 16777216/));
    await assert.rejects(loadModel(identityStepModel(2 ** 30, 4), { backend: 'onnx' }), rejects('E_ONNX_MODEL', /"frame" declares 1073741824 values per stream; at most 1048576/));
    const ok = await loadModel(identityStepModel(4, 8), { backend: 'onnx' });
    assert.equal(ok.stateBytes, 32);
  });
});
