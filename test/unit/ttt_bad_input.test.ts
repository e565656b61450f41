import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readTttGolden } from '../../models/ttt/golden.js';
import { loadReferenceModel } from '../../models/ttt/reference.js';
import { isEdgestreamError, type ErrorCode } from '../../runtime/errors.js';
import type { TensorToWrite } from '../../runtime/io/safetensors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { decodeModelFile, encodeModelFile } from '../../runtime/model/model_file.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { frame, tttGolden } from '../helpers/ttt_golden.js';

const code = (c: ErrorCode) => (e: unknown) => isEdgestreamError(e, c);

/** A golden JSON, edited. */
function editedGolden(name: string, edit: (doc: Record<string, any>) => void): Uint8Array {
  const doc = JSON.parse(readFileSync(join(GOLDEN, 'ttt', `${name}.json`), 'utf8')) as Record<string, any>;
  edit(doc);
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** A model file with one tensor removed or replaced. */
function editedModel(bytes: Uint8Array, edit: (t: Map<string, TensorToWrite>) => void): Uint8Array {
  const file = decodeModelFile(bytes);
  const tensors = new Map<string, TensorToWrite>();
  for (const [k, t] of file.tensors) tensors.set(k, { shape: t.shape, data: t.f64 ?? t.data });
  edit(tensors);
  const { format: _f, version: _v, ...meta } = file.metadata;
  return encodeModelFile(meta, tensors);
}

describe('TTT bad input', () => {
  it('golden files: missing or misshaped parameters → E_ARCH_MISMATCH naming the key', () => {
    assert.throws(() => readTttGolden('x.json', editedGolden('ttt_linear', (d) => { delete d.params.W1; })), (e) => isEdgestreamError(e, 'E_ARCH_MISMATCH') && /W1/.test((e as Error).message));
    assert.throws(() => readTttGolden('x.json', editedGolden('ttt_mlp', (d) => { d.params.W2.shape = [4, 16, 64]; })), (e) => isEdgestreamError(e, 'E_ARCH_MISMATCH') && /W2/.test((e as Error).message));
    assert.throws(() => readTttGolden('x.json', editedGolden('lact_layer', (d) => { d.params['extra.weight'] = { shape: [1], data: [0] }; })), code('E_ARCH_MISMATCH'));
  });

  it('golden files: malformed structure, data or config → E_GOLDEN_FORMAT', () => {
    const bad: [string, (d: Record<string, any>) => void][] = [
      ['ttt_linear', (d) => { d.params.b1.data.pop(); }],
      ['ttt_linear', (d) => { d.inputs.x.data[3] = 'NaN'; }],
      ['ttt_linear', (d) => { delete d.meta; }],
      ['ttt_linear', (d) => { d.meta.module = 'something.py::Else'; }],
      ['ttt_linear', (d) => { d.meta.config.hidden_size = -4; }],
      ['ttt_linear', (d) => { d.outputs.y.shape = [1, 39, 64]; }],
      ['lact_op_postnorm', (d) => { d.meta.call = 'block_causal_lact_swiglu(w0, ...)'; }],
      ['lact_op_postnorm', (d) => { d.inputs.q.shape = [2, 49, 16]; }],
    ];
    for (const [name, edit] of bad) assert.throws(() => readTttGolden('x.json', editedGolden(name, edit)), code('E_GOLDEN_FORMAT'), name);
    assert.throws(() => readTttGolden('x.json', new TextEncoder().encode('{"meta": ')), code('E_GOLDEN_FORMAT'));
  });

  it('the CLI reports a broken golden as `edgestream: E_GOLDEN_FORMAT: …` with exit 2', () => {
    const dir = tempDir();
    const p = join(dir, 'ttt', 'broken.json');
    mkdirSync(join(dir, 'ttt'));
    writeFileSync(p, editedGolden('ttt_linear', (d) => { d.params.b1.data.pop(); }));
    const r = runCli(['conformance', p]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /edgestream: E_GOLDEN_FORMAT: .*b1/);
  });

  it('model files: missing / misshaped / non-finite tensors and bad config are refused at load', async () => {
    const { bytes } = tttGolden('lact_layer');
    await assert.rejects(loadModel(editedModel(bytes, (t) => t.delete('w1')), { backend: 'js' }), (e) => isEdgestreamError(e, 'E_ARCH_MISMATCH') && /w1/.test((e as Error).message));
    await assert.rejects(loadModel(editedModel(bytes, (t) => t.set('qk_scale', { shape: [64], data: new Float32Array(64) })), { backend: 'js' }), code('E_ARCH_MISMATCH'));
    await assert.rejects(loadModel(editedModel(bytes, (t) => t.set('ttt_norm.weight', { shape: [32], data: new Float32Array(32).fill(NaN) })), { backend: 'js' }), code('E_MODEL_FORMAT'));
    assert.throws(() => loadReferenceModel(editedModel(bytes, (t) => t.delete('o_proj.weight'))), code('E_ARCH_MISMATCH'));
    const file = decodeModelFile(bytes);
    const tensors = new Map<string, TensorToWrite>([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    const withConfig = (config: Record<string, unknown>, variant = 'layer') => encodeModelFile({ arch: 'ttt', variant, config, labels: [], frontend: null }, tensors);
    await assert.rejects(loadModel(withConfig({ layer: { kind: 'lact', hidden_size: 64 } }), { backend: 'js' }), code('E_MODEL_FORMAT'));
    // RoPE bases outside float32 (PyTorch computes the tables in float32) name the field.
    const layer = (file.metadata.config as { layer: Record<string, unknown> }).layer;
    for (const rope_theta of [1e39, 1e-40, -1, 0]) {
      await assert.rejects(loadModel(withConfig({ layer: { ...layer, rope_theta } }), { backend: 'js' }),
        (e) => isEdgestreamError(e, 'E_MODEL_FORMAT') && /rope_theta/.test((e as Error).message));
    }
    await assert.rejects(loadModel(withConfig(file.metadata.config, 'transformer'), { backend: 'js' }), code('E_UNKNOWN_ARCH'));
  });

  for (const name of ['ttt_linear_mamba', 'lact_layer_use_muon_ttt_prenorm']) {
    it(`${name}: a NaN frame is refused (E_NONFINITE_INPUT) and the stream continues as if it never came`, async () => {
      const { g, bytes } = tttGolden(name);
      const model = await loadModel(bytes, { backend: 'js' });
      const clean = model.createSession();
      const hit = model.createSession();
      const ref = loadReferenceModel(bytes).createSession();
      const bad = Float32Array.from(frame(g, 0));
      bad[7] = NaN;
      const huge = Float32Array.from(frame(g, 0)).fill(3e38);
      for (let t = 0; t < g.tokens; t++) {
        if (t === 20) {
          assert.throws(() => hit.push(bad), code('E_NONFINITE_INPUT'));
          assert.throws(() => hit.push(huge), code('E_NONFINITE_INPUT'));
          assert.throws(() => ref.push(bad), code('E_NONFINITE_INPUT'));
          assert.throws(() => hit.push(frame(g, 0).subarray(1)), code('E_INPUT_SHAPE'));
        }
        assert.deepEqual(hit.push(frame(g, t)), clean.push(frame(g, t)), `token ${t}`);
      }
    });
  }
});

