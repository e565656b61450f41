import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFrames, lmuformerGoldenRunner, LMUFORMER_TOL } from '../../models/lmuformer/conformance.js';
import { assertVariant, isSpiking } from '../../models/lmuformer/variants.js';
import { runGoldenFloat32, runGoldenFloat64, TTT_FP32_TOL, TTT_FP64_TOL, TTT_MUON_REL_TOL } from '../../models/ttt/conformance.js';
import { goldenModelFile, readTttGolden } from '../../models/ttt/golden.js';
import { streamFrames } from '../../runtime/stream/stream_frames.js';
import { BACKENDS, backendUnavailable } from '../helpers/backends.js';
import { goldenInput, goldenModel } from '../helpers/golden_model.js';
import { GOLDEN } from '../helpers/paths.js';
import { argmaxExcluded, excludedCase, exclusionName, GOLDEN_EXCLUSIONS, type Family, type GoldenCase, type Weights } from './golden_exclusions.js';

/**
 * One contract, every backend: the golden vectors of the official implementations (../shared/golden),
 * streamed token by token through the public API, on each kernel tier and onnxruntime-node, with
 * float32 and int8 weights. What does not run is in golden_exclusions.ts, each with its reason.
 *
 * Pass criteria, the same on every backend:
 * - LMUFormer float32 (official all_seq.npy): non-spiking, max abs error ≤ 1e-4; spiking, ≥ 99 % of
 *   frames within 1e-4 and the same argmax on every frame (lmuformerGoldenRunner).
 * - LMUFormer int8: the js tier's int8 computes the reference formulas; another tier's int8 output
 *   is within 1/20 of what int8 itself moves the logits (int8 vs float32 on js), with the same argmax.
 *   Kernel by kernel the tiers agree to float rounding (wasm_kernels.test.ts); through a whole model,
 *   rounding upstream can move an activation across an int16 rounding boundary, so they differ by
 *   a few such steps: far less than int8 differs from float32.
 * - TTT float32: max abs error ≤ 1e-5 (Muon: 1e-3 × the output scale); the float64 reference path,
 *   which no backend runs, ≤ 1e-10 (specs/ttt.md §5).
 */
const LMU_ROOT = join(GOLDEN, 'lmuformer');
const TTT_ROOT = join(GOLDEN, 'ttt');
const lmuSets = readdirSync(LMU_ROOT).filter((d) => lmuformerGoldenRunner.matches(join(LMU_ROOT, d))).sort();
const tttFiles = readdirSync(TTT_ROOT).filter((f) => f.endsWith('.json')).sort();
const GOLDENS: Record<Family, string[]> = { lmuformer: lmuSets, ttt: tttFiles };
const WEIGHTS: readonly Weights[] = ['float32', 'int8'];

/** The js tier's int8 and float32 outputs of a golden set: the int8 reference (computed once). */
const int8References = new Map<string, Promise<{ int8: Float32Array; f32: Float32Array; K: number }>>();
function int8Reference(set: string): Promise<{ int8: Float32Array; f32: Float32Array; K: number }> {
  let r = int8References.get(set);
  if (!r) {
    r = (async () => {
      const input = goldenInput(set);
      const [batch, frames] = input.shape as [number, number];
      const js = await goldenModel(set, { backend: 'js' });
      const int8 = streamFrames(await goldenModel(set, { backend: 'js', int8: true }), input.data, batch, frames);
      return { int8, f32: streamFrames(js, input.data, batch, frames), K: js.outputDim };
    })();
    int8References.set(set, r);
  }
  return r;
}

async function runCase(c: GoldenCase): Promise<void> {
  const { golden, backend } = c;
  if (c.family === 'ttt') {
    const g = readTttGolden(join(TTT_ROOT, golden));
    const tol = g.muon ? TTT_MUON_REL_TOL * g.outputScale : TTT_FP32_TOL;
    const r = await runGoldenFloat32(g, goldenModelFile(g), backend);
    assert.equal(r.backend, backend);
    assert.equal(r.tokens, g.tokens * g.streams.length);
    assert.ok(r.maxAbsError <= tol, `${golden} on ${backend}: float32 max abs error ${r.maxAbsError} > ${tol}`);
  } else if (c.weights === 'float32') {
    const r = await lmuformerGoldenRunner.run(join(LMU_ROOT, golden), { backend });
    assert.ok(r.pass, `${golden}: ${r.kind} max abs error ${r.maxAbsError} (tol ${r.tol}); ${r.note}`);
    assert.ok(r.note.includes(`on ${backend};`), r.note);
    if (!isSpiking(assertVariant(r.kind.replace(/^lmuformer:/, '')))) assert.ok(r.maxAbsError <= LMUFORMER_TOL, `${golden}: ${r.maxAbsError}`);
  } else {
    const input = goldenInput(golden);
    const [batch, frames] = input.shape as [number, number];
    const model = await goldenModel(golden, { backend, int8: true });
    assert.equal(model.backend, backend);
    const got = streamFrames(model, input.data, batch, frames);
    const ref = await int8Reference(golden);
    const quantisation = compareFrames(ref.int8, ref.f32, batch * frames, ref.K, 0).maxAbsError;
    const implementations = compareFrames(got, ref.int8, batch * frames, ref.K, 0);
    assert.ok(quantisation > 1e-3, `int8 really quantises (differs from float32 by ${quantisation})`);
    assert.ok(implementations.maxAbsError <= quantisation / 20, `${backend} int8 vs js int8: ${implementations.maxAbsError}; int8 vs float32: ${quantisation}`);
    if (!argmaxExcluded(c)) assert.equal(implementations.argmaxMismatches, 0);
  }
}

describe('golden vectors on every backend', async () => {
  it('finds the golden sets', () => {
    assert.ok(lmuSets.length >= 4, `found ${lmuSets.length} LMUFormer sets in ${LMU_ROOT}`);
    assert.ok(tttFiles.length > 0, `no .json goldens in ${TTT_ROOT}`);
  });

  for (const family of ['lmuformer', 'ttt'] as const) {
    for (const backend of BACKENDS) {
      const unavailable = await backendUnavailable(backend);
      for (const weights of WEIGHTS) {
        const whole = excludedCase({ family, golden: '*', backend, weights });
        describe(`${family} · ${backend} · ${weights}`, { skip: unavailable }, () => {
          if (whole) {
            it(`all ${GOLDENS[family].length} goldens`, { skip: whole }, () => {});
            return;
          }
          for (const golden of GOLDENS[family]) {
            const c: GoldenCase = { family, golden, backend, weights };
            it(golden, { skip: excludedCase(c) }, () => runCase(c));
          }
        });
      }
    }
  }

  describe('ttt · float64 reference path (the same on every backend)', () => {
    for (const f of tttFiles) {
      it(f, () => {
        const g = readTttGolden(join(TTT_ROOT, f));
        const r = runGoldenFloat64(g, goldenModelFile(g));
        assert.equal(r.tokens, g.tokens * g.streams.length);
        assert.ok(r.maxAbsError <= TTT_FP64_TOL, `float64 max abs error ${r.maxAbsError} > ${TTT_FP64_TOL}`);
      });
    }
  });

  const checked = await Promise.all(GOLDEN_EXCLUSIONS.filter((x) => x.holds).map(async (x) => ({ x, skip: x.needs ? await backendUnavailable(x.needs) : false })));
  describe('every exclusion still holds', () => {
    for (const { x, skip } of checked) {
      it(`${exclusionName(x)}: ${x.reason}`, { skip }, () => x.holds!());
    }
  });
});
