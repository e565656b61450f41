import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFrames } from '../../models/lmuformer/conformance.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy, writeNpy } from '../../runtime/io/npy.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const golden = (set: string, f: string) => join(GOLDEN, 'lmuformer', set, f);

describe('edgestream import / inspect / predict (the built CLI)', () => {
  it('imports every golden checkpoint and predicts all_seq frame by frame', () => {
    for (const set of ['lmu_rnn_conv1d-d64-depth2', 'slmu_rnn_ms_conv1d-d64']) {
      const variant = JSON.parse(readFileBytes(golden(set, 'meta.json')).toString()).variant as string;
      const model = join(dir, `${set}.safetensors`);
      const imp = runCli(['import', golden(set, 'model.pth'), '--arch', variant, '-o', model]);
      assert.equal(imp.status, 0, imp.stderr);
      assert.match(imp.stdout, new RegExp(`imported ${variant}`));

      const insp = runCli(['inspect', model, '--json']);
      assert.equal(insp.status, 0, insp.stderr);
      const info = JSON.parse(insp.stdout);
      const meta = JSON.parse(readFileBytes(golden(set, 'meta.json')).toString());
      assert.equal(info.parameters, meta.params, 'parameter count as PyTorch counts it');
      assert.equal(info.dim, meta.dim);
      assert.equal(info.depths, meta.depths);
      assert.equal(info.delayFrames, 5);
      assert.ok(info.stateBytesPerStream > 0 && info.macsPerFrame > info.parameters / 2);

      const out = join(dir, `${set}.out.npy`);
      const pred = runCli(['predict', model, '--features', golden(set, 'input.npy'), '--out', out, '--backend', 'js']);
      assert.equal(pred.status, 0, pred.stderr);
      const got = readNpy(readFileBytes(out));
      const want = readNpy(readFileBytes(golden(set, 'all_seq.npy')));
      assert.deepEqual(got.shape, want.shape);
      const cmp = compareFrames(got.data, want.data, want.shape[0]! * want.shape[1]!, want.shape[2]!, 1e-4);
      assert.ok(cmp.framesWithin / (want.shape[0]! * want.shape[1]!) >= 0.99 && cmp.argmaxMismatches === 0, JSON.stringify(cmp));
    }
  });

  it('import stores the decision defaults given on the command line (stream and clip thresholds, detector, window); bad values are E_USAGE', () => {
    const model = join(dir, 'decisions.safetensors');
    const imp = runCli(['import', golden('lmu_rnn_conv1d-d64', 'model.pth'), '--arch', 'auto', '--activation', 'softmax', '--threshold', '0.9', '--clip-threshold', '0.35',
      '--smooth-frames', '5', '--refractory-ms', '700', '--peak-frames', '0', '--stream-window-frames', '96', '-o', model]);
    assert.equal(imp.status, 0, imp.stderr);
    const info = JSON.parse(runCli(['inspect', model, '--json']).stdout);
    assert.deepEqual(info.decision, { activation: 'softmax', threshold: 0.9, clipThreshold: 0.35, smoothFrames: 5, refractoryMs: 700, peakFrames: 0, streamWindowFrames: 96 });
    for (const [flag, bad] of [['--clip-threshold', '1.2'], ['--threshold', 'x'], ['--stream-window-frames', '4']] as const) {
      const r = runCli(['import', golden('lmu_rnn_conv1d-d64', 'model.pth'), '--arch', 'auto', flag, bad, '-o', join(dir, 'never.safetensors')]);
      assert.equal(r.status, 2, `${flag} ${bad}`);
      assert.match(r.stderr, new RegExp(`E_USAGE: ${flag}`));
    }
  });

  it('predict accepts a 2-D [frames, mels] input as one stream', () => {
    const model = join(dir, 'm2d.safetensors');
    assert.equal(runCli(['import', golden('lmu_rnn_conv1d-d64', 'model.pth'), '--arch', 'auto', '-o', model]).status, 0);
    const input = readNpy(readFileBytes(golden('lmu_rnn_conv1d-d64', 'input.npy')));
    const row = input.data.subarray(128 * 128, 2 * 128 * 128) as Float32Array; // batch row 1
    const f = join(dir, 'row1.npy');
    writeFileSync(f, writeNpy(Float32Array.from(row), [128, 128]));
    const out = join(dir, 'row1.out.npy');
    assert.equal(runCli(['predict', model, '--features', f, '--out', out, '--backend', 'js']).status, 0);
    const got = readNpy(readFileBytes(out));
    assert.deepEqual(got.shape, [128, 1, 35]);
    const want = readNpy(readFileBytes(golden('lmu_rnn_conv1d-d64', 'all_seq.npy')));
    for (let t = 0; t < 128; t++) {
      for (let k = 0; k < 35; k++) assert.ok(Math.abs(got.data[t * 35 + k]! - want.data[(t * 2 + 1) * 35 + k]!) <= 1e-4);
    }
  });
});

describe('CLI bad input: clear errors, exit code 2, nothing half-written', () => {
  const model = join(dir, 'bad-input-model.safetensors');
  it('setup', () => assert.equal(runCli(['import', golden('slmu_rnn_ms_conv1d-d64', 'model.pth'), '--arch', 'auto', '-o', model]).status, 0));

  it('wrong --arch names the key and writes no file', () => {
    const out = join(dir, 'never.safetensors');
    const r = runCli(['import', golden('slmu_rnn_ms_conv1d-d64', 'model.pth'), '--arch', 'slmu_rnn_conv1d', '-o', out]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^edgestream: E_ARCH_MISMATCH: .*patch_embed\.rpe_bn/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary files left behind');
  });

  it('unknown --arch, truncated .pth, missing file', () => {
    const r1 = runCli(['import', golden('lmu_rnn_conv1d-d64', 'model.pth'), '--arch', 'transformer', '-o', join(dir, 'x.safetensors')]);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /E_UNKNOWN_ARCH.*lmu_rnn_conv1d, slmu_rnn_conv1d, slmu_rnn_ms_conv1d/);
    const trunc = join(dir, 'trunc.pth');
    const b = readFileBytes(golden('lmu_rnn_conv1d-d64', 'model.pth'));
    writeFileSync(trunc, b.subarray(0, b.length >> 1));
    const r2 = runCli(['import', trunc, '--arch', 'auto', '-o', join(dir, 'y.safetensors')]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /E_CHECKPOINT/);
    const r3 = runCli(['inspect', join(dir, 'does-not-exist.safetensors')]);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /E_IO: cannot read .*does-not-exist\.safetensors: ENOENT/);
  });

  it('inspect takes a shipped model by name, like classify and listen', () => {
    const r = runCli(['inspect', 'kws12', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { name: string; file: string };
    assert.equal(info.name, 'lmuformer-kws12');
    assert.match(info.file, /models\/lmuformer\/demo\/kws12\.safetensors$/);
  });

  it('a corrupted model file', () => {
    const bad = join(dir, 'bad.safetensors');
    const b = readFileBytes(model).slice();
    b.fill(0x41, 8, 40); // stomp on the JSON header
    writeFileSync(bad, b);
    const r = runCli(['inspect', bad]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /E_MODEL_FORMAT/);
  });

  it('features of the wrong shape or dtype, and NaN frames', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['mels', writeNpy(new Float32Array(10 * 64), [10, 64]), /E_INPUT_SHAPE: .*64 values but the model expects 128/],
      ['rank', writeNpy(new Float32Array(128), [128]), /E_INPUT_SHAPE: .*shape \[128\]/],
      ['empty', writeNpy(new Float32Array(0), [0, 128]), /E_INPUT_SHAPE: .*no frames/],
    ];
    const nan = new Float32Array(2 * 7 * 128).fill(0.1);
    nan[(1 * 7 + 3) * 128 + 5] = Number.NaN;
    cases.push(['nan', writeNpy(nan, [2, 7, 128]), /E_NONFINITE_INPUT: batch row 1, frame 3/]);
    const notNpy = new TextEncoder().encode('frames,mels\n1,2\n');
    cases.push(['csv', notNpy, /E_NPY_FORMAT/]);
    for (const [name, bytes, pattern] of cases) {
      const f = join(dir, `${name}.npy`);
      writeFileSync(f, bytes);
      const out = join(dir, `${name}.out.npy`);
      const r = runCli(['predict', model, '--features', f, '--out', out, '--backend', 'js']);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, pattern, name);
      assert.equal(existsSync(out), false, `${name}: no output written`);
    }
  });

  it('conformance exits 1 when a golden exceeds a (deliberately impossible) tolerance', () => {
    const r = runCli(['conformance', join(GOLDEN, 'lmuformer', 'lmu_rnn_conv1d-d64'), '--tol', '1e-12', '--backend', 'js']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^FAIL/m);
    const ok = runCli(['conformance', join(GOLDEN, 'lmuformer', 'lmu_rnn_conv1d-d64'), '--backend', 'js']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^PASS/m);
  });
});
