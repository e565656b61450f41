import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// The layers point one way (.dependency-cruiser.cjs): runtime/ ← models/ ← transports/ ← cli/, index.ts.
// dependency-cruiser reads the TypeScript sources (through @swc/core) and lists every import that
// breaks a rule.

const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');
/** What ships: the package root, the layers and the examples (tests may import anything). */
const SHIPPED = ['index.ts', 'runtime', 'models', 'transports', 'cli', 'examples'];

interface Violation { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }
interface CruiseResult { summary: { violations: Violation[]; totalCruised: number } }

function cruise(cwd: string, paths: string[]): CruiseResult {
  const r = spawnSync(DEPCRUISE, ['--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json', ...paths], { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.ok(r.stdout.startsWith('{'), `depcruise failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as CruiseResult;
}

const describeViolation = (v: Violation): string =>
  `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`;

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  it('the shipped code keeps every rule', () => {
    const { summary } = cruise(ROOT, SHIPPED);
    // A parser that cannot read TypeScript cruises almost nothing and finds nothing wrong.
    assert.ok(summary.totalCruised > 200, `only ${summary.totalCruised} modules cruised: can dependency-cruiser read TypeScript here?`);
    assert.deepEqual(summary.violations.map(describeViolation), []);
  });

  it('each rule catches what it forbids (a small tree with one breach per rule)', () => {
    const dir = tempDir();
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }),
      'runtime/engine.ts': "import { family } from '../models/family.js';\nexport const engine = family;\n",
      'runtime/loop_a.ts': "import { b } from './loop_b.js';\nexport const a = () => b;\n",
      'runtime/loop_b.ts': "import { a } from './loop_a.js';\nexport const b = () => a;\n",
      'models/family.ts': "import { broker } from '../transports/broker.js';\nexport const family = broker;\n",
      'transports/broker.ts': "import { main } from '../cli/main.js';\nexport const broker = main;\n",
      'cli/main.ts': 'export const main = 1;\n',
      'examples/run.ts': "import { engine } from '../runtime/engine.js';\nexport const run = engine;\n",
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    const found = cruise(dir, ['runtime', 'models', 'transports', 'cli', 'examples']).summary.violations.map(describeViolation).sort();
    assert.deepEqual(found, [
      'cli-is-a-leaf: transports/broker.ts → cli/main.ts',
      'examples-use-the-package: examples/run.ts → runtime/engine.ts',
      'models-below-transports: models/family.ts → transports/broker.ts',
      'no-circular: runtime/loop_a.ts → runtime/loop_b.ts (cycle runtime/loop_b.ts → runtime/loop_a.ts)',
      'runtime-stays-below: runtime/engine.ts → models/family.ts',
      'transports-below-entry-points: transports/broker.ts → cli/main.ts',
    ]);
  });
});
