import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFrames } from '../../models/lmuformer/conformance.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy } from '../../runtime/io/npy.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const golden = (set: string, f: string) => join(GOLDEN, 'lmuformer', set, f);

describe('edgestream export-onnx / predict --backend onnx / conformance --backend onnx (the built CLI)', () => {
  const set = 'slmu_rnn_ms_conv1d-d64';
  const model = join(dir, 'm.safetensors');
  const onnxPath = join(dir, 'm.onnx');

  it('exports a step graph, and predict on it (and with --backend onnx) matches all_seq', () => {
    assert.equal(runCli(['import', golden(set, 'model.pth'), '--arch', 'auto', '-o', model]).status, 0);
    const exp = runCli(['export-onnx', model, '-o', onnxPath]);
    assert.equal(exp.status, 0, exp.stderr);
    assert.match(exp.stdout, /state \[N, \d+\].*delay 5; loads in onnxruntime-node/);
    const insp = runCli(['inspect', onnxPath, '--json']);
    assert.equal(insp.status, 0, insp.stderr);
    const info = JSON.parse(insp.stdout);
    assert.equal(info.variant, 'slmu_rnn_ms_conv1d');
    assert.equal(info.delayFrames, 5);
    assert.equal(info.format, 'onnx step model');
    const want = readNpy(readFileBytes(golden(set, 'all_seq.npy')));
    for (const args of [[onnxPath], [model, '--backend', 'onnx']]) {
      const out = join(dir, 'out.npy');
      const r = runCli(['predict', ...args, '--features', golden(set, 'input.npy'), '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /on onnx/);
      const got = readNpy(readFileBytes(out));
      const cmp = compareFrames(got.data, want.data, want.shape[0]! * want.shape[1]!, want.shape[2]!, 1e-4);
      assert.equal(cmp.argmaxMismatches, 0);
      assert.ok(cmp.framesWithin / (want.shape[0]! * want.shape[1]!) >= 0.99);
    }
  });

  it('conformance --backend onnx passes the golden sets', () => {
    const r = runCli(['conformance', join(GOLDEN, 'lmuformer'), '--backend', 'onnx']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /within tolerance/);
  });

  it('bad ONNX files: exit 2 with E_ONNX_MODEL', () => {
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, readFileBytes(onnxPath).subarray(0, 5000));
    const r = runCli(['predict', bad, '--features', golden(set, 'input.npy'), '--out', join(dir, 'x.npy')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^edgestream: E_ONNX_MODEL: .*bad\.onnx/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const e = runCli(['export-onnx', join(dir, 'missing.safetensors'), '-o', join(dir, 'y.onnx')]);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /E_IO/);
  });
});
