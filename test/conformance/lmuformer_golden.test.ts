import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lmuformerGoldenRunner } from '../../models/lmuformer/conformance.js';
import { GOLDEN } from '../helpers/paths.js';

// Every official-model golden set: import model.pth, stream input.npy frame by frame through
// the public API, compare every frame with the official all_seq.npy.
const root = join(GOLDEN, 'lmuformer');
const sets = readdirSync(root).filter((d) => lmuformerGoldenRunner.matches(join(root, d))).sort();

describe('LMUFormer golden vectors (js reference kernels)', () => {
  it('finds the golden sets', () => assert.ok(sets.length >= 4, `found ${sets.length} sets in ${root}`));
  for (const set of sets) {
    it(set, async () => {
      const r = await lmuformerGoldenRunner.run(join(root, set), { backend: 'js' });
      assert.ok(r.pass, `${set}: ${r.kind} max abs error ${r.maxAbsError} (tol ${r.tol}); ${r.note}`);
      if (r.kind === 'lmuformer:lmu_rnn_conv1d') assert.ok(r.maxAbsError <= 1e-4);
    });
  }
});
