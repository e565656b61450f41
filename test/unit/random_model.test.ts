import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { legendreMemory } from '../../models/lmuformer/legendre.js';
import { randomFeatures, randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { VARIANTS } from '../../models/lmuformer/variants.js';
import { readTorchCheckpoint } from '../../runtime/checkpoint/torch_checkpoint.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { streamFrames } from '../../runtime/stream/stream_frames.js';
import { GOLDEN } from '../helpers/paths.js';

describe('random-weight LMUFormer models (benchmarks)', () => {
  it('builds the Legendre memory exactly as the official checkpoints carry it', () => {
    const ck = readTorchCheckpoint(readFileBytes(join(GOLDEN, 'lmuformer', 'lmu_rnn_conv1d-d64', 'model.pth')));
    const key = [...ck.keys()].find((k) => k.endsWith('block.0.attn.lmu.A'))!;
    const A = ck.get(key)!.toFloat32();
    const B = ck.get(key.replace(/A$/, 'B'))!.toFloat32();
    const { a, b } = legendreMemory(64);
    for (let i = 0; i < A.length; i++) assert.ok(Math.abs(a[i]! - A[i]!) <= 1e-7, `A[${i}]`);
    for (let i = 0; i < B.length; i++) assert.ok(Math.abs(b[i]! - B[i]!) <= 1e-7, `B[${i}]`);
  });

  for (const variant of VARIANTS) {
    it(`${variant}: a valid model file whose spiking layers fire at 15–40 %`, async () => {
      const config = { dim: 32, depths: 1, mlpHidden: 64, mels: 16, classes: 5, memory: variant === 'lmu_rnn_conv1d' ? 32 : 64 };
      const m = randomLmuformerModel(variant, { config, seed: 3, calibration: { streams: 2, frames: 64 } });
      const rates = Object.values(m.firingRates);
      if (variant === 'lmu_rnn_conv1d') assert.equal(rates.length, 0);
      else {
        assert.ok(rates.length >= 10, `${rates.length} LIF layers calibrated`);
        for (const [bn, r] of Object.entries(m.firingRates)) assert.ok(r >= 0.12 && r <= 0.43, `${bn} fires at ${r}`);
      }
      const model = await loadModel(m.bytes, { backend: 'js' });
      assert.equal(model.variant, variant);
      const out = streamFrames(model, randomFeatures(1, 20, 16, 5), 1, 20);
      assert.ok(out.every(Number.isFinite));
      assert.ok(new Set(out).size > 10, 'outputs vary');
    });
  }
});
