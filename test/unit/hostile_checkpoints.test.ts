import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { importLmuformerCheckpoint } from '../../models/lmuformer/import_checkpoint.js';
import { parameterSpec, type LmuformerConfig } from '../../models/lmuformer/variants.js';
import { unpickle } from '../../runtime/checkpoint/pickle.js';
import { readTorchCheckpoint } from '../../runtime/checkpoint/torch_checkpoint.js';
import { isEdgestreamError, type ErrorCode } from '../../runtime/errors.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { GOLDEN } from '../helpers/paths.js';
import { concat, contiguous, deflatedZeros, pickleStateDict, torchCheckpoint, zipArchive, type PickledTensor, type ZipInput } from '../helpers/torch_zip.js';

const rejects = (code: ErrorCode, pattern?: RegExp) => (e: unknown): boolean => {
  assert.ok(isEdgestreamError(e, code), `expected ${code}, got ${String(e)}`);
  if (pattern) assert.match((e as Error).message, pattern);
  return true;
};
const golden = (): Uint8Array => readFileBytes(join(GOLDEN, 'lmuformer', 'lmu_rnn_conv1d-d64', 'model.pth'));
const zipEntries = (bytes: Uint8Array): ZipInput[] => Object.entries(unzipSync(bytes)).map(([name, data]) => ({ name, data }));

/** A complete lmu_rnn_conv1d checkpoint of the given size, each tensor in its own storage. */
function specCheckpoint(config: LmuformerConfig, edit: (t: PickledTensor[], s: Map<string, Uint8Array>) => void = () => {}, extra: ZipInput[] = []): Uint8Array {
  const tensors: PickledTensor[] = [];
  const storages = new Map<string, Uint8Array>();
  let k = 0;
  for (const [name, shape] of parameterSpec('lmu_rnn_conv1d', config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const key = String(k++);
    const data = new Float32Array(n).map((_, i) => (name.endsWith('running_var') ? 1 : Math.sin(i + k) * 0.1));
    storages.set(key, new Uint8Array(data.buffer));
    tensors.push({ name, storage: key, storageNumel: n, size: [...shape], stride: contiguous(shape) });
  }
  edit(tensors, storages);
  return torchCheckpoint(tensors, storages, extra);
}
const small: LmuformerConfig = { dim: 8, depths: 1, mlpHidden: 16, mels: 16, classes: 4, memory: 8 };
const labels = ['a', 'b', 'c', 'd'];

describe('zip bombs: only the entries a checkpoint needs are inflated, with caps (issue 13 row 7)', () => {
  it('a valid checkpoint plus a 1 GiB entry of deflated zeros imports as if the entry were not there', () => {
    const clean = golden();
    const bomb: ZipInput = { name: 'archive/data/bomb', data: deflatedZeros(1024), method: 8, size: 1 << 30, crc: 0 };
    const withBomb = zipArchive([...zipEntries(clean), bomb]);
    assert.ok(withBomb.length < 3 << 20, `${withBomb.length} bytes`);
    const a = importLmuformerCheckpoint(clean, { arch: 'auto' });
    const b = importLmuformerCheckpoint(withBomb, { arch: 'auto' });
    assert.deepEqual(b.bytes, a.bytes);
  });

  it('a storage entry that inflates to more than it declares is refused', () => {
    const ckpt = specCheckpoint(small, (t, s) => {
      // head.bias: 4 floats declared, the deflated entry holds 1 MiB.
      const head = t.find((x) => x.name === 'head.bias')!;
      s.delete(head.storage);
      t.splice(t.indexOf(head), 1, { ...head, storage: 'bomb' });
    }, [{ name: 'archive/data/bomb', data: deflatedZeros(1), method: 8, size: 16, raw: new Uint8Array(16) }]);
    assert.throws(() => importLmuformerCheckpoint(ckpt, { arch: 'auto', labels }), rejects('E_CHECKPOINT', /entry archive\/data\/bomb inflates to more than the 16 bytes it declares/));
  });

  it('compressed storages that inflate beyond 4 × the archive + 16 MiB are refused (a bomb inside a needed entry)', () => {
    const ckpt = specCheckpoint(small, (t) => {
      const head = t.find((x) => x.name === 'head.bias')!;
      t.splice(t.indexOf(head), 1, { ...head, storage: 'big', storageNumel: 64 << 20 }); // 256 MiB storage, 4 elements used
    }, [{ name: 'archive/data/big', data: deflatedZeros(256), method: 8, size: 256 << 20, crc: 0 }]);
    assert.throws(() => importLmuformerCheckpoint(ckpt, { arch: 'auto', labels }), rejects('E_CHECKPOINT', /inflate to more than .* a zip bomb/));
  });

  it('a storage the pickle declares larger (or smaller) than its archive entry is refused', () => {
    const over = specCheckpoint(small, (t) => { t.find((x) => x.name === 'head.bias')!.storageNumel = 2 ** 40; });
    assert.throws(() => readTorchCheckpoint(over), rejects('E_CHECKPOINT', /declares 4398046511104 bytes but its archive entry holds 16 \(truncated or overdeclared\)/));
    const under = specCheckpoint(small, (t) => { const h = t.find((x) => x.name === 'head.bias')!; h.storageNumel = 2; h.size = [2]; h.stride = [1]; });
    assert.throws(() => readTorchCheckpoint(under), rejects('E_CHECKPOINT', /oversized entry/));
  });

  it('ZIP structures that lie are refused: entry counts, duplicates, methods, encryption, CRC', () => {
    const good = specCheckpoint(small);
    const eocd = good.length - 22;
    const count = good.slice();
    new DataView(count.buffer).setUint16(eocd + 10, 0xffff, true);
    assert.throws(() => readTorchCheckpoint(count), rejects('E_CHECKPOINT', /cannot fit|damaged/));
    const cdOffset = good.slice();
    new DataView(cdOffset.buffer).setUint32(eocd + 16, 0xfffffff0, true);
    assert.throws(() => readTorchCheckpoint(cdOffset), rejects('E_CHECKPOINT', /runs past the end/));
    const dup = zipArchive([{ name: 'archive/data.pkl', data: pickleStateDict([]) }, { name: 'archive/data.pkl', data: pickleStateDict([]) }]);
    assert.throws(() => readTorchCheckpoint(dup), rejects('E_CHECKPOINT', /two entries named archive\/data\.pkl/));
    const bzip = zipArchive([{ name: 'archive/data.pkl', data: pickleStateDict([]), method: 12 as 0 }]);
    assert.throws(() => readTorchCheckpoint(bzip), rejects('E_CHECKPOINT', /compression method 12/));
    const crc = specCheckpoint(small, (_t, s) => { s.get('0')![5]! ^= 0x40; });
    const flipped = crc.slice();
    // Recompute nothing: flip a byte of storage 0 after the CRC was written.
    const at = Buffer.from(crc).indexOf(Buffer.from('archive/data/0')) + 'archive/data/0'.length;
    flipped[at + 3] = flipped[at + 3]! ^ 0xff;
    assert.throws(() => importLmuformerCheckpoint(flipped, { arch: 'auto', labels }), rejects('E_CHECKPOINT', /CRC/));
  });
});

describe('tensor layouts are bounded by the storage present (issue 13 row 8)', () => {
  it('stride-0 tensors of a dim-2048 model over one stored float are refused, naming the key', () => {
    const config: LmuformerConfig = { dim: 2048, depths: 1, mlpHidden: 8192, mels: 128, classes: 35, memory: 2048 };
    const tensors: PickledTensor[] = [...parameterSpec('lmu_rnn_conv1d', config)].map(([name, shape]) => ({ name, storage: '0', storageNumel: 1, size: [...shape], stride: shape.map(() => 0) }));
    const ckpt = torchCheckpoint(tensors, new Map([['0', new Uint8Array(4)]]));
    assert.ok(ckpt.length < 64 << 10);
    assert.throws(() => importLmuformerCheckpoint(ckpt, { arch: 'auto' }), rejects('E_CHECKPOINT', /tensor patch_embed\.conv_layers\.0\.0\.weight has shape \[2048, 128, 3\] and strides \[0, 0, 0\]: its elements overlap/));
  });

  it('overlapping strides, offsets past the storage and negative values are refused', () => {
    const edit = (f: (h: PickledTensor) => void) => specCheckpoint(small, (t) => f(t.find((x) => x.name === 'head.weight')!));
    assert.throws(() => readTorchCheckpoint(edit((h) => { h.stride = [1, 1]; })), rejects('E_CHECKPOINT', /head\.weight .* overlap/));
    assert.throws(() => readTorchCheckpoint(edit((h) => { h.offset = 1; })), rejects('E_CHECKPOINT', /head\.weight .* reaches past its storage of 32 elements/));
    assert.throws(() => readTorchCheckpoint(edit((h) => { h.offset = -4; })), rejects('E_CHECKPOINT', /offset is invalid/));
    assert.throws(() => readTorchCheckpoint(edit((h) => { h.stride = [8, -1]; })), rejects('E_CHECKPOINT', /stride is not a tuple of non-negative integers/));
    assert.throws(() => readTorchCheckpoint(edit((h) => { h.size = [2 ** 40, 2 ** 40]; })), rejects('E_CHECKPOINT', /head\.weight/));
    // A transposed view (strides [1, 4]) is a legal, non-overlapping layout: read in logical order.
    const t = readTorchCheckpoint(edit((h) => { h.size = [8, 4]; h.stride = [1, 8]; })).get('head.weight')!;
    assert.deepEqual(t.shape, [8, 4]);
  });

  it('a dtype that does not fit the variant, or a shape that does not, is named', () => {
    const long = specCheckpoint(small, (t, s) => { const h = t.find((x) => x.name === 'head.bias')!; h.storageType = 'LongStorage'; h.storageNumel = 2; h.size = [2]; s.set(h.storage, new Uint8Array(16)); });
    assert.throws(() => importLmuformerCheckpoint(long, { arch: 'auto', labels }), rejects('E_ARCH_MISMATCH', /head\.bias/));
  });

  it('a hand-built checkpoint of the same tensors imports (the writer is sound)', () => {
    const r = importLmuformerCheckpoint(specCheckpoint(small), { arch: 'auto', labels });
    assert.equal(r.variant, 'lmu_rnn_conv1d');
    assert.equal(r.config.dim, 8);
  });
});

describe('pickle bombs', () => {
  const opts = { globals: {}, persistentLoad: () => null };
  it('millions of containers appended to one list are refused by the value budget', () => {
    const body = new Uint8Array(2 * 300_000).map((_, i) => (i % 2 === 0 ? 0x7d : 0x61)); // EMPTY_DICT, APPEND
    const pkl = concat([Uint8Array.of(0x80, 0x02, 0x5d), body, Uint8Array.of(0x2e)]);
    assert.throws(() => unpickle(pkl, opts), rejects('E_CHECKPOINT', /creates more than 250000 values/));
  });
  it('a memo of millions of entries is refused', () => {
    const body = new Uint8Array(2 * 300_000).map((_, i) => (i % 2 === 0 ? 0x4e : 0x94)); // NONE, MEMOIZE
    assert.throws(() => unpickle(concat([Uint8Array.of(0x80, 0x04), body, Uint8Array.of(0x2e)]), opts), rejects('E_CHECKPOINT'));
  });
  it('200,000 nested lists need no recursion (no stack overflow)', () => {
    const n = 200_000;
    const pkl = concat([Uint8Array.of(0x80, 0x02), new Uint8Array(n).fill(0x5d), new Uint8Array(n - 1).fill(0x61), Uint8Array.of(0x2e)]);
    assert.ok(Array.isArray(unpickle(pkl, opts)));
    const zip = zipArchive([{ name: 'archive/data.pkl', data: pkl }]);
    assert.throws(() => readTorchCheckpoint(zip), rejects('E_CHECKPOINT', /does not hold a state_dict/));
  });
  it('APPENDS of 200,000 items at once works (no argument-spreading limit)', () => {
    const n = 200_000;
    const pkl = concat([Uint8Array.of(0x80, 0x02, 0x5d, 0x28), new Uint8Array(n).fill(0x4e), Uint8Array.of(0x65, 0x2e)]);
    assert.equal((unpickle(pkl, opts) as unknown[]).length, n);
  });
});
