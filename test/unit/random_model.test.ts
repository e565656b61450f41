import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { legendreDelaySystem } from '../../models/lmuformer/lmu_matrices.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { VARIANTS } from '../../models/lmuformer/variants.js';
import { readTorchCheckpoint } from '../../runtime/checkpoint/torch_checkpoint.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { GOLDEN } from '../helpers/paths.js';

describe('LMU matrices', () => {
  for (const set of ['lmu_rnn_conv1d-d64', 'slmu_rnn_ms_conv1d-d64']) {
    it(`match the checkpoint buffers of ${set} (scipy cont2discrete, zoh)`, () => {
      const ck = readTorchCheckpoint(readFileBytes(join(GOLDEN, 'lmuformer', set, 'model.pth')));
      const A = ck.get('module.block.0.attn.lmu.A')!.toFloat32();
      const B = ck.get('module.block.0.attn.lmu.B')!.toFloat32();
      const { a, b } = legendreDelaySystem(B.length, 128);
      let err = 0;
      for (let i = 0; i < A.length; i++) err = Math.max(err, Math.abs(A[i]! - a[i]!));
      for (let i = 0; i < B.length; i++) err = Math.max(err, Math.abs(B[i]! - b[i]!));
      assert.ok(err <= 1e-7, `max abs difference ${err}`);
    });
  }
});

describe('random LMUFormer models', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: loads, streams, and spiking layers fire at natural rates`, async () => {
      const m = randomLmuformerModel({ variant, dim: 32, seed: 7 });
      const model = await loadModel(m.bytes, { backend: 'js' });
      assert.equal(model.variant, variant);
      const s = model.createSession();
      let outs = 0;
      for (let t = 0; t < 12; t++) outs += s.push(new Float32Array(128).fill(Math.sin(t))).length;
      outs += s.flush().length;
      assert.equal(outs, 12);
      for (const [name, rate] of Object.entries(m.spikeRates)) {
        if (name.endsWith('bn_u')) continue; // a single neuron: its rate is too noisy to pin down
        assert.ok(rate > 0.05 && rate < 0.6, `${name} fires at ${rate}`);
      }
      assert.equal(Object.keys(m.spikeRates).length > 0, variant !== 'lmu_rnn_conv1d');
    });
  }
});
