import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TTT_FP64_TOL } from '../../models/ttt/conformance.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';

// The TTT goldens through the built command line. Every golden on every backend, through the
// library, is test/conformance/golden.test.ts.
const DIR = join(GOLDEN, 'ttt');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('`edgestream conformance` on the TTT goldens', () => {
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
