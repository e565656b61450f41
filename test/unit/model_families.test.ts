import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { MODEL_FAMILIES } from '../../models/families.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { familyRegistrars, registeredFamilies, registerModelFamily } from '../../runtime/model/family_registry.js';
import { goldenInput, goldenModelBytes, frameOf } from '../helpers/golden_model.js';
import { ROOT } from '../helpers/paths.js';

// The runtime names no model family: families register (models/register.ts), and every entry point
// that loads models makes sure they have: the package root, the command line, engine worker threads.

const KWS = join(ROOT, 'models/lmuformer/demo/kws35.safetensors');

/** Run an async body in a fresh Node process (TypeScript through tsx), without the test runner's registration. */
function runFresh(body: string): { status: number | null; stdout: string; stderr: string } {
  // Plain --eval (no --input-type, which worker threads would inherit and refuse); imports are dynamic.
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', `(async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });`], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, EDGESTREAM_LOG: 'silent' },
  });
}

describe('model families', () => {
  it('every shipped family is registered once, by models/register.ts', () => {
    assert.deepEqual(registeredFamilies().map((f) => f.arch), MODEL_FAMILIES.map((f) => f.arch));
    assert.deepEqual(familyRegistrars(), [pathToFileURL(join(ROOT, 'models/register.ts')).href]);
    for (const f of MODEL_FAMILIES) assert.ok(f.goldenRunner, `${f.arch} has a golden runner`);
  });

  it('loading below the package root without registering fails loudly, naming the fix', () => {
    const loadModel = JSON.stringify(pathToFileURL(join(ROOT, 'runtime/model/load_model.ts')).href);
    const r = runFresh(`
      const { loadModel } = await import(${loadModel});
      try { await loadModel(${JSON.stringify(KWS)}); console.log('loaded'); }
      catch (e) { console.log(e.code, e.message); }`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^E_MODEL_FORMAT .*no model family for arch "lmuformer" \(no model family is registered in this process: import 'edgestream'/);
  });

  it('the built package root registers the families for itself and for engine worker threads', async () => {
    const r = runFresh(`
      const { loadModel, Engine } = await import('edgestream');
      const model = await loadModel(${JSON.stringify(KWS)});
      const engine = await Engine.create(${JSON.stringify(KWS)}, { workers: 1, backend: 'js' });
      engine.open('a');
      for (let t = 0; t < 8; t++) engine.push('a', new Float32Array(engine.inputDim));
      const tail = await engine.close('a');
      await engine.dispose();
      console.log(model.arch, engine.backend, tail.framesIn);`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'lmuformer js 8');
  });

  it('a worker thread registers what its starter registered (the test runner registered the sources)', async () => {
    const { Engine } = await import('../../runtime/engine/engine.js');
    const { loadModel } = await import('../../runtime/model/load_model.js');
    const set = 'lmu_rnn_conv1d-d64';
    const engine = await Engine.create(goldenModelBytes(set), { workers: 1, backend: 'js' });
    const session = (await loadModel(goldenModelBytes(set), { backend: 'js' })).createSession();
    const input = goldenInput(set);
    const expected: Float32Array[] = [];
    const outputs: Float32Array[] = [];
    engine.onOutput((o) => outputs.push(o.values));
    try {
      engine.open('s');
      for (let t = 0; t < 12; t++) {
        engine.push('s', frameOf(input, 0, t));
        expected.push(...session.push(frameOf(input, 0, t)));
      }
      const { tail } = await engine.close('s'); // delivered to onOutput as well
      expected.push(...session.flush());
      assert.deepEqual(tail, expected.slice(-tail.length));
      assert.deepEqual(outputs, expected);
    } finally {
      await engine.dispose();
    }
  });

  it('a registrar must be a module URL (what worker threads import)', () => {
    assert.throws(() => registerModelFamily(MODEL_FAMILIES[0]!, 'models/register.ts'), (e: unknown) => isEdgestreamError(e) && e.code === 'E_CONFIG' && /import\.meta\.url/.test(e.message));
  });
});
