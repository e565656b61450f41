import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runGoldenFloat32, runGoldenFloat64, TTT_FP32_TOL, TTT_FP64_TOL, TTT_MUON_REL_TOL } from '../../models/ttt/conformance.js';
import { goldenModelFile, readTttGolden } from '../../models/ttt/golden.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';

const DIR = join(GOLDEN, 'ttt');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('TTT goldens (official TTT-Linear/MLP and LaCT, token by token)', () => {
  it('the golden folder holds TTT goldens', () => assert.ok(files.length > 0, `no .json goldens in ${DIR}`));
  for (const f of files) {
    it(`${f}: float32 path within ${TTT_FP32_TOL} (Muon: ${TTT_MUON_REL_TOL} × output scale), float64 path within ${TTT_FP64_TOL}`, async () => {
      const g = readTttGolden(join(DIR, f));
      const bytes = goldenModelFile(g);
      const tol = g.muon ? TTT_MUON_REL_TOL * g.outputScale : TTT_FP32_TOL;
      const f32 = await runGoldenFloat32(g, bytes, 'js');
      assert.equal(f32.tokens, g.tokens * g.streams.length);
      assert.ok(f32.maxAbsError <= tol, `float32 max abs error ${f32.maxAbsError} > ${tol}`);
      const f64 = runGoldenFloat64(g, bytes);
      assert.ok(f64.maxAbsError <= TTT_FP64_TOL, `float64 max abs error ${f64.maxAbsError} > ${TTT_FP64_TOL}`);
    });
  }

  it('`edgestream conformance <dir>` runs every TTT golden and exits 0', () => {
    const r = runCli(['conformance', DIR, '--json', '--backend', 'js']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { pass: boolean; kind: string; details: { fp64MaxAbsError: number } });
    assert.equal(lines.length, files.length);
    for (const l of lines) {
      assert.ok(l.pass, JSON.stringify(l));
      assert.match(l.kind, /^ttt:/);
      assert.ok(l.details.fp64MaxAbsError <= TTT_FP64_TOL);
    }
  });

  it('`edgestream conformance` fails (exit 1) when the tolerance is impossible', () => {
    const r = runCli(['conformance', join(DIR, files[0]!), '--tol', '1e-30', '--backend', 'js']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /FAIL/);
  });
});
