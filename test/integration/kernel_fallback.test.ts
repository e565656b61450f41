import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { availableTiers } from '../../runtime/kernels/registry.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { CLI, ROOT } from '../helpers/paths.js';

// `backend: 'auto'` takes the fastest kernel tier this engine runs and says which faster tiers it
// passed over and why: on the Model (`skippedTiers`), in `edgestream inspect`, and as a pino warning
// when it lands on the plain JS tier. `node --jitless` is a real engine without WebAssembly.
const DEMO = join(ROOT, 'models/lmuformer/demo/kws35.safetensors');

interface Skipped { tier: string; reason: string; unsupported: boolean }

function node(nodeArgs: string[], args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeArgs, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, EDGESTREAM_LOG: 'warn', EDGESTREAM_LOG_PRETTY: '0' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** pino's JSON lines on stderr at warning level or above. */
function warnings(stderr: string): { mod?: string; tier?: string; skipped?: Skipped[]; msg: string }[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.level >= 40);
}

describe('kernel tier fallback: which tier failed and why', () => {
  it('no WebAssembly (node --jitless): inspect shows auto → js naming each WASM tier and its reason, with one warning', () => {
    const r = node(['--jitless'], [CLI, 'inspect', DEMO, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { kernelTier: { auto: string; skipped: Skipped[] } };
    assert.equal(info.kernelTier.auto, 'js');
    assert.deepEqual(info.kernelTier.skipped.map((s) => s.tier), ['wasm-relaxed', 'wasm']);
    for (const s of info.kernelTier.skipped) {
      assert.match(s.reason, new RegExp(`kernel tier "${s.tier}" needs WebAssembly.*--jitless`));
      assert.equal(s.unsupported, true);
    }
    const w = warnings(r.stderr);
    assert.equal(w.length, 1, r.stderr);
    assert.equal(w[0]!.mod, 'kernels');
    assert.match(w[0]!.msg, /wasm-relaxed, wasm cannot run here.*plain JS tier/);
    assert.deepEqual(w[0]!.skipped, info.kernelTier.skipped);

    const human = node(['--jitless'], [CLI, 'inspect', DEMO]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /kernel tier \(auto\)\s+js; not wasm-relaxed: .*WebAssembly.*; not wasm: .*WebAssembly/);
  });

  it('no WebAssembly: the library\'s Model says so too (skippedTiers), and still runs on js', () => {
    const script = `const { loadModel } = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))}); // the package root
      const m = await loadModel(${JSON.stringify(DEMO)});
      const out = m.createSession().push(new Float32Array(m.inputDim));
      console.log(JSON.stringify({ backend: m.backend, skipped: m.skippedTiers, outputs: out.length }));`;
    const r = node(['--jitless', '--input-type=module', '-e', script], []);
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { backend: string; skipped: Skipped[]; outputs: number };
    assert.equal(got.backend, 'js');
    assert.deepEqual(got.skipped.map((s) => s.tier), ['wasm-relaxed', 'wasm']);
    assert.equal(got.outputs, 0, 'the first frame is inside the model delay');
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
  });

  it('an engine with WebAssembly: auto takes a WASM tier, and a tier it lacks a feature for is passed over without a warning', () => {
    const r = node([], [CLI, 'inspect', DEMO, '--json']); // as users run it: Node 20 has no relaxed SIMD without its flag
    assert.equal(r.status, 0, r.stderr);
    const { kernelTier } = JSON.parse(r.stdout) as { kernelTier: { auto: string; skipped: Skipped[] } };
    assert.match(kernelTier.auto, /^wasm/);
    for (const s of kernelTier.skipped) assert.equal(s.unsupported, true, JSON.stringify(s));
    assert.deepEqual(warnings(r.stderr), []);
  });

  it('in this process: skippedTiers lists exactly the faster tiers this engine lacks; a named backend skips nothing', async () => {
    const auto = await loadModel(DEMO);
    const available = availableTiers();
    assert.equal(auto.backend, available.includes('wasm-relaxed') ? 'wasm-relaxed' : 'wasm');
    assert.deepEqual(auto.skippedTiers.map((s) => s.tier), available.includes('wasm-relaxed') ? [] : ['wasm-relaxed']);
    const named = await loadModel(DEMO, { backend: 'wasm' });
    assert.deepEqual(named.skippedTiers, []);
    auto.dispose();
    named.dispose();
  });
});
