import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { importLmuformerCheckpoint } from '../../models/lmuformer/import_checkpoint.js';
import { readTorchCheckpoint } from '../../runtime/checkpoint/torch_checkpoint.js';
import { isEdgestreamError, type ErrorCode } from '../../runtime/errors.js';
import { readNpy, writeNpy } from '../../runtime/io/npy.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { join } from 'node:path';
import { GOLDEN } from '../helpers/paths.js';
import { goldenModelBytes } from '../helpers/golden_model.js';

const rejects = (code: ErrorCode, pattern?: RegExp) => (e: unknown): boolean => {
  assert.ok(isEdgestreamError(e, code), `expected ${code}, got ${String(e)}`);
  if (pattern) assert.match((e as Error).message, pattern);
  return true;
};

/** Rewrite a safetensors file's JSON header (keeps the data as is). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

const pth = (set: string) => readFileBytes(join(GOLDEN, 'lmuformer', set, 'model.pth'));

describe('checkpoint import rejects bad checkpoints with E_CHECKPOINT / E_ARCH_MISMATCH', () => {
  it('truncated .pth', () => {
    const b = pth('lmu_rnn_conv1d-d64');
    for (const cut of [10, 1000, Math.floor(b.length / 2), b.length - 100]) {
      assert.throws(() => importLmuformerCheckpoint(b.subarray(0, cut), { arch: 'auto' }), rejects('E_CHECKPOINT'));
    }
  });

  it('not a checkpoint at all', () => {
    assert.throws(() => importLmuformerCheckpoint(strToU8('hello world'), { arch: 'auto' }), rejects('E_CHECKPOINT', /not a PyTorch checkpoint/));
    assert.throws(() => importLmuformerCheckpoint(new Uint8Array([0x80, 0x02, 0x8a]), { arch: 'auto' }), rejects('E_CHECKPOINT', /legacy/));
  });

  it('a pickle that asks for os.system is refused, nothing runs', () => {
    // PROTO 2; GLOBAL 'os system'; 'touch /tmp/pwned'; TUPLE1; REDUCE; STOP
    const cmd = strToU8('touch /tmp/edgestream-pwned');
    const pkl = new Uint8Array([0x80, 0x02, ...strToU8('cos\nsystem\n'), 0x58, cmd.length, 0, 0, 0, ...cmd, 0x85, 0x52, 0x2e]);
    const zip = zipSync({ 'archive/data.pkl': pkl }, { level: 0 });
    assert.throws(() => readTorchCheckpoint(zip), rejects('E_CHECKPOINT', /refusing to load global os\.system/));
  });

  it('an unsupported opcode is named', () => {
    const pkl = new Uint8Array([0x80, 0x02, 0x7d, 0x69, 0x2e]); // 'i' = INST (arbitrary callable): not supported
    const zip = zipSync({ 'archive/data.pkl': pkl }, { level: 0 });
    assert.throws(() => readTorchCheckpoint(zip), rejects('E_CHECKPOINT', /unsupported pickle opcode 0x69/));
  });

  it('a damaged pickle stream', () => {
    const pkl = new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28]); // ends mid-stream
    const zip = zipSync({ 'archive/data.pkl': pkl }, { level: 0 });
    assert.throws(() => readTorchCheckpoint(zip), rejects('E_CHECKPOINT'));
  });

  it('wrong --arch names the missing key and suggests the right variant', () => {
    assert.throws(
      () => importLmuformerCheckpoint(pth('slmu_rnn_ms_conv1d-d64'), { arch: 'lmu_rnn_conv1d' }),
      rejects('E_ARCH_MISMATCH', /missing tensor patch_embed\.conv_layers\.0\.0\.weight.*look like slmu_rnn_ms_conv1d/),
    );
    assert.throws(
      () => importLmuformerCheckpoint(pth('slmu_rnn_ms_conv1d-d64'), { arch: 'slmu_rnn_conv1d' }),
      rejects('E_ARCH_MISMATCH', /patch_embed\.rpe_bn/),
    );
  });

  it('labels that do not match the head', () => {
    assert.throws(() => importLmuformerCheckpoint(pth('lmu_rnn_conv1d-d64'), { arch: 'auto', labels: ['a', 'b'] }), rejects('E_ARCH_MISMATCH', /2 labels/));
  });
});

describe('model files: truncated, hostile or inconsistent files are rejected with E_MODEL_FORMAT', () => {
  const good = goldenModelBytes('lmu_rnn_conv1d-d64');

  it('the good file loads', async () => {
    const m = await loadModel(good, { backend: 'js' });
    assert.equal(m.outputDim, 35);
  });

  it('truncated anywhere', async () => {
    for (const cut of [0, 4, 8, 20, 200, good.length - 1]) {
      await assert.rejects(loadModel(good.subarray(0, cut), { backend: 'js' }), rejects('E_MODEL_FORMAT'));
    }
  });

  it('a header length pointing past the end does not allocate it', () => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(0, 1n << 60n, true);
    assert.throws(() => readSafetensors(b), rejects('E_MODEL_FORMAT', /header length/));
  });

  it('overlapping offsets, wrong byte counts, bad dtypes, bad shapes', () => {
    const first = (h: Record<string, any>) => Object.keys(h).find((k) => k !== '__metadata__')!;
    const cases: [string, (h: Record<string, any>) => void, RegExp][] = [
      ['overlap', (h) => { const ks = Object.keys(h).filter((k) => k !== '__metadata__'); h[ks[1]!].data_offsets = h[ks[0]!].data_offsets; }, /overlapping|needs|offsets/],
      ['size', (h) => { h[first(h)].shape = [1, 2, 3]; }, /needs .* bytes/],
      ['dtype', (h) => { h[first(h)].dtype = 'C64'; }, /unsupported dtype/],
      ['negative shape', (h) => { h[first(h)].shape = [-1]; }, /shape/],
      ['offsets past end', (h) => { h[first(h)].data_offsets = [0, 1e12]; }, /run past/],
      ['metadata not strings', (h) => { h.__metadata__.labels = 5; }, /must be a string/],
    ];
    for (const [name, edit, pattern] of cases) {
      assert.throws(() => readSafetensors(withHeader(good, edit)), rejects('E_MODEL_FORMAT', pattern), name);
    }
  });

  it('metadata that is not an edgestream model, or has a bad config', async () => {
    const notOurs = withHeader(good, (h) => { h.__metadata__ = { format: 'pt' }; });
    await assert.rejects(loadModel(notOurs, { backend: 'js' }), rejects('E_MODEL_FORMAT', /not an edgestream model/));
    const badJson = withHeader(good, (h) => { h.__metadata__.config = '{nope'; });
    await assert.rejects(loadModel(badJson, { backend: 'js' }), rejects('E_MODEL_FORMAT', /config/));
    const badMels = withHeader(good, (h) => { h.__metadata__.config = JSON.stringify({ ...JSON.parse(h.__metadata__.config), mels: 127 }); });
    await assert.rejects(loadModel(badMels, { backend: 'js' }), rejects('E_ARCH_MISMATCH', /conv_layers\.0\.0\.weight has shape \[64, 128, 3\], expected \[64, 127, 3\]/));
    const badMemory = withHeader(good, (h) => { h.__metadata__.config = JSON.stringify({ ...JSON.parse(h.__metadata__.config), memory: 128 }); });
    await assert.rejects(loadModel(badMemory, { backend: 'js' }), rejects('E_ARCH_MISMATCH', /memory size 64/));
    const badVariant = withHeader(good, (h) => { h.__metadata__.variant = 'resnet'; });
    await assert.rejects(loadModel(badVariant, { backend: 'js' }), rejects('E_UNKNOWN_ARCH'));
  });

  it('a tensor with the wrong shape is named', async () => {
    // Swap the declared shape of a square-compatible tensor: same byte count, wrong layout.
    const bad = withHeader(good, (h) => { h['block.0.attn.lmu.W_h.weight'].shape = [128, 64]; });
    await assert.rejects(loadModel(bad, { backend: 'js' }), rejects('E_ARCH_MISMATCH', /block\.0\.attn\.lmu\.W_h\.weight has shape \[128, 64\], expected \[64, 128\]/));
  });
});

describe('npy files', () => {
  it('round-trip', () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const r = readNpy(writeNpy(a, [2, 3]));
    assert.deepEqual(r.shape, [2, 3]);
    assert.deepEqual(r.data, a);
  });
  it('truncated, bad magic, unsupported dtype', () => {
    const b = writeNpy(new Float32Array(6), [2, 3]);
    assert.throws(() => readNpy(b.subarray(0, b.length - 1)), rejects('E_NPY_FORMAT', /truncated/));
    assert.throws(() => readNpy(b.subarray(0, 9)), rejects('E_NPY_FORMAT'));
    assert.throws(() => readNpy(strToU8('not numpy at all')), rejects('E_NPY_FORMAT', /magic/));
    const c = b.slice();
    c[c.indexOf(0x3c /* '<' */)] = 0x3e; // '<f4' → '>f4' (big-endian)
    assert.throws(() => readNpy(c), rejects('E_NPY_FORMAT', /dtype/));
  });
});
