import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { importLmuformerCheckpoint } from '../../models/lmuformer/import_checkpoint.js';
import { parameterSpec, type LmuformerConfig } from '../../models/lmuformer/variants.js';
import { unpickle } from '../../runtime/checkpoint/pickle.js';
import { readTorchCheckpoint } from '../../runtime/checkpoint/torch_checkpoint.js';
import { contiguous, pickleStateDict, torchCheckpoint, zipArchive, type PickledTensor } from '../helpers/torch_zip.js';
import { check, concat, mutated, outcome, TEST_TIMEOUT } from './fuzz.js';

/**
 * Fuzzing the checkpoint reader (ZIP + pickle): any bytes give tensors or E_CHECKPOINT (import:
 * also E_ARCH_MISMATCH / E_UNKNOWN_ARCH / E_MODEL_FORMAT), never another exception; every tensor
 * that is read has exactly its shape's elements, never more than its storage holds.
 */
const IMPORT_CODES = ['E_CHECKPOINT', 'E_ARCH_MISMATCH', 'E_UNKNOWN_ARCH', 'E_MODEL_FORMAT'] as const;
const small: LmuformerConfig = { dim: 4, depths: 1, mlpHidden: 8, mels: 8, classes: 3, memory: 4 };

function checkpoint(): Uint8Array {
  const tensors: PickledTensor[] = [];
  const storages = new Map<string, Uint8Array>();
  let k = 0;
  for (const [name, shape] of parameterSpec('lmu_rnn_conv1d', small)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const key = String(k++);
    storages.set(key, new Uint8Array(new Float32Array(n).fill(name.endsWith('running_var') ? 1 : 0.05).buffer));
    tensors.push({ name, storage: key, storageNumel: n, size: [...shape], stride: contiguous(shape) });
  }
  return torchCheckpoint(tensors, storages);
}
const valid = checkpoint();
const labels = ['a', 'b', 'c'];

function readAll(bytes: Uint8Array): void {
  const r = outcome(['E_CHECKPOINT'], () => readTorchCheckpoint(bytes));
  if (!r.ok) return;
  for (const [name, t] of r.value) {
    const v = outcome(['E_CHECKPOINT'], () => t.toFloat32());
    if (v.ok) assert.equal(v.value.length, t.shape.reduce((a, b) => a * b, 1), name);
  }
}

describe('fuzz: zip + pickle checkpoints', { timeout: TEST_TIMEOUT }, () => {
  it('arbitrary bytes, and arbitrary bytes behind a ZIP signature', () => {
    check(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => readAll(b)), 1500);
    check(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => readAll(concat(Uint8Array.of(0x50, 0x4b, 3, 4), b))), 1500);
  });

  it('mutations of a valid checkpoint import or fail cleanly', () => {
    check(fc.property(mutated(valid), (b) => {
      const r = outcome([...IMPORT_CODES], () => importLmuformerCheckpoint(b, { arch: 'auto', labels }));
      if (r.ok) assert.equal(r.value.config.dim, 4);
    }), 400);
  });

  it('random pickle opcode streams', () => {
    const ops = [0x80, 0x95, 0x2e, 0x28, 0x29, 0x5d, 0x7d, 0x74, 0x85, 0x86, 0x87, 0x6c, 0x64, 0x61, 0x65, 0x73, 0x75, 0x4e, 0x88, 0x89, 0x4b, 0x4d, 0x4a, 0x8a, 0x47,
      0x58, 0x8c, 0x8d, 0x55, 0x54, 0x43, 0x42, 0x71, 0x72, 0x94, 0x68, 0x6a, 0x63, 0x93, 0x52, 0x81, 0x62, 0x51, 0x30, 0x31, 0x32, 0x69, 0x00];
    const token = fc.tuple(fc.constantFrom(...ops), fc.uint8Array({ maxLength: 4 })).map(([op, arg]) => concat(Uint8Array.of(op), arg));
    const stream = fc.array(token, { maxLength: 60 }).map((t) => concat(Uint8Array.of(0x80, 0x02), ...t, Uint8Array.of(0x2e)));
    const globals = { 'collections.OrderedDict': () => [] };
    check(fc.property(stream, (pkl) => {
      outcome(['E_CHECKPOINT'], () => unpickle(pkl, { globals, persistentLoad: (p) => p }));
      readAll(zipArchive([{ name: 'archive/data.pkl', data: pkl }]));
    }), 3000);
  });

  it('tensor layouts: any size, stride, offset and storage size', () => {
    const layout = fc.record({
      size: fc.array(fc.oneof(fc.nat({ max: 6 }), fc.constantFrom(2 ** 31, 2 ** 40)), { maxLength: 3 }),
      stride: fc.array(fc.oneof(fc.nat({ max: 12 }), fc.constantFrom(-1, 2 ** 33)), { maxLength: 3 }),
      offset: fc.oneof(fc.nat({ max: 40 }), fc.constantFrom(-1, 2 ** 45)),
      storageNumel: fc.oneof(fc.nat({ max: 64 }), fc.constantFrom(2 ** 40)),
      /** Mostly an entry of exactly the declared storage (so layouts get past the entry check). */
      entryFloats: fc.option(fc.nat({ max: 64 }), { nil: undefined, freq: 5 }),
      deflate: fc.boolean(),
    });
    check(fc.property(layout, (l) => {
      const floats = l.entryFloats ?? Math.min(l.storageNumel, 64);
      const raw = new Uint8Array(new Float32Array(floats).map((_, i) => i).buffer);
      const entry = l.deflate
        ? { name: 'archive/data/0', data: deflateRawSync(raw), method: 8 as const, size: raw.length, raw }
        : { name: 'archive/data/0', data: raw };
      const tensor: PickledTensor = { name: 't', storage: '0', storageNumel: l.storageNumel, offset: l.offset, size: l.size, stride: l.stride };
      const bytes = zipArchive([{ name: 'archive/data.pkl', data: pickleStateDict([tensor]) }, entry]);
      const r = outcome(['E_CHECKPOINT'], () => readTorchCheckpoint(bytes));
      if (!r.ok) return;
      const t = r.value.get('t')!;
      const numel = l.size.reduce((a, b) => a * b, 1);
      assert.ok(numel <= l.storageNumel, 'no tensor has more elements than its storage');
      const v = outcome(['E_CHECKPOINT'], () => t.toFloat32());
      if (!v.ok) return;
      assert.equal(v.value.length, numel);
      // Elements are the storage's, at offset + Σ index · stride.
      if (numel > 0) assert.equal(v.value[0], l.offset);
    }), 2000);
  });
});
