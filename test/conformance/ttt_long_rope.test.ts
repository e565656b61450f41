import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { runGoldenFloat32, runGoldenFloat64, TTT_FP32_TOL, TTT_FP64_TOL } from '../../models/ttt/conformance.js';
import { goldenModelFile, readTttGolden } from '../../models/ttt/golden.js';
import { loadReferenceModel } from '../../models/ttt/reference.js';
import { withRuntimeOptions } from '../../models/ttt/runtime_options.js';
import { GOLDEN, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { SYSTEM_PYTHON } from '../helpers/torchaudio.js';

// LaCT layers far longer than the official goldens (L = 60), where RoPE angles t · inv_freq_0 = t pass
// SLEEF's narrow range (125) and PyTorch switches whole 8-lane vectors to Payne–Hanek reduction. The
// references come from models/ttt/tools/lact_layer_reference.py: a float64 PyTorch re-implementation of
// LaCTSWIGLULayer that reproduces the official golden to ~1e-15 (checked below), with the RoPE cache
// computed in float32 by torch as fla does.
const TOOL = join(ROOT, 'models/ttt/tools/lact_layer_reference.py');
const OFFICIAL = join(GOLDEN, 'ttt', 'lact_layer.json');

function torchUnavailable(): string | null {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${SYSTEM_PYTHON} cannot import torch (Debian package python3-torch)`;
}

function tool(args: string[]): string {
  const r = spawnSync(SYSTEM_PYTHON, [TOOL, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lact_layer_reference.py ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

// Half the attention head dim 10 (vectors straddle rows), 1503 rows: the table's last vector is
// zero-padded, so the last token also depends on the sequence length.
const STRADDLING = { hidden_size: 80, num_attn_heads: 4, num_lact_heads: 2, window_size: 40, lact_chunk_size: 64, rope_theta: 500000.0, max_position_embeddings: 64 };

const skip = torchUnavailable();

describe('LaCT layer over thousands of tokens (float32 RoPE tables past SLEEF\'s narrow range)', { skip: skip ?? false }, () => {
  const dir = skip ? '' : tempDir('edgestream-lact-long-');
  const long = join(dir, 'lact_layer_2000.json');
  const straddling = join(dir, 'lact_head20_1503.json');
  before(() => {
    tool(['make', OFFICIAL, '2000', long, '1']);
    tool(['make', OFFICIAL, '1503', straddling, '3', JSON.stringify(STRADDLING)]);
  });

  it('the re-implementation reproduces the official golden (so its long outputs are official-equivalent)', () => {
    const m = /max abs difference to .*: ([0-9.e+-]+)/.exec(tool(['check', OFFICIAL]));
    assert.ok(m, 'no difference reported');
    assert.ok(Number(m[1]) <= 1e-13, `re-implementation vs official golden: ${m[1]}`);
  });

  for (const [name, path] of [['the official lact_layer parameters, 2000 tokens', long], ['head dim 20, rope_theta 5e5, 1503 tokens', straddling]] as const) {
    it(`${name}: float64 within ${TTT_FP64_TOL}, float32 within ${TTT_FP32_TOL}`, async () => {
      const g = readTttGolden(path);
      const bytes = goldenModelFile(g);
      const f64 = runGoldenFloat64(g, bytes);
      assert.equal(f64.tokens, g.tokens);
      assert.ok(f64.maxAbsError <= TTT_FP64_TOL, `float64 max abs error ${f64.maxAbsError}`);
      const f32 = await runGoldenFloat32(g, bytes, 'js');
      assert.ok(f32.maxAbsError <= TTT_FP32_TOL, `float32 max abs error ${f32.maxAbsError}`);
    });
  }

  it('without the sequence length (an open-ended stream) only the last token of that table differs', () => {
    const g = readTttGolden(straddling);
    const s = loadReferenceModel(withRuntimeOptions(goldenModelFile(g), { rope_sequence_length: 0 })).createSession();
    const { frames, expected } = g.streams[0]!;
    let beforeLast = 0;
    let last = 0;
    for (let t = 0; t < g.tokens; t++) {
      const y = s.push(frames.subarray(t * g.inputDim, (t + 1) * g.inputDim));
      for (let i = 0; i < g.outputDim; i++) {
        const e = Math.abs(y[i]! - expected[t * g.outputDim + i]!);
        if (t < g.tokens - 1) beforeLast = Math.max(beforeLast, e); else last = Math.max(last, e);
      }
    }
    assert.ok(beforeLast <= TTT_FP64_TOL, `tokens before the last: ${beforeLast}`);
    assert.ok(last > TTT_FP64_TOL && last < 1e-6, `last token: ${last} (expected a float32-rounding-sized difference)`);
  });
});
