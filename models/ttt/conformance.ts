import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { ConformanceOptions, ConformanceResult, ConformanceRunner } from '../../runtime/conformance.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { goldenModelFile, readTttGolden, type TttGolden } from './golden.js';
import { loadReferenceModel } from './reference.js';

/** Tolerances (specs/ttt.md §5). */
export const TTT_FP32_TOL = 1e-5;
/** Muon: relative to the output scale (max |y|). */
export const TTT_MUON_REL_TOL = 1e-3;
export const TTT_FP64_TOL = 1e-10;

export interface GoldenErrors {
  maxAbsError: number;
  tokens: number;
}

function compare(got: ArrayLike<number>, want: Float64Array, offset: number, errs: GoldenErrors): void {
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want[offset + i]!);
    errs.maxAbsError = Math.max(errs.maxAbsError, Number.isNaN(e) ? Infinity : e);
  }
}

/** Stream every token of a golden through the float32 public API (`loadModel` → `Session.push`). */
export async function runGoldenFloat32(g: TttGolden, bytes: Uint8Array, backend: ConformanceOptions['backend'] = 'auto'): Promise<GoldenErrors & { backend: string }> {
  const model = await loadModel(bytes, { backend: backend ?? 'auto' });
  const errs: GoldenErrors = { maxAbsError: 0, tokens: 0 };
  for (const s of g.streams) {
    const session = model.createSession();
    for (let t = 0; t < g.tokens; t++) {
      const outs = session.push(s.frames.subarray(t * g.inputDim, (t + 1) * g.inputDim));
      compare(outs[0]!, s.expected, t * g.outputDim, errs);
      errs.tokens++;
    }
    session.flush();
  }
  return { ...errs, backend: model.backend };
}

/** The same through the float64 reference path (`loadReferenceModel` → `ReferenceSession.push`). */
export function runGoldenFloat64(g: TttGolden, bytes: Uint8Array): GoldenErrors {
  const ref = loadReferenceModel(bytes);
  const errs: GoldenErrors = { maxAbsError: 0, tokens: 0 };
  for (const s of g.streams) {
    const session = ref.createSession();
    for (let t = 0; t < g.tokens; t++) {
      compare(session.push(s.frames.subarray(t * g.inputDim, (t + 1) * g.inputDim)), s.expected, t * g.outputDim, errs);
      errs.tokens++;
    }
  }
  return errs;
}

/** Does this look like a TTT golden? (`.json` in a `ttt` folder, or naming the official TTT/LaCT code.) */
function sniff(path: string): boolean {
  if (!path.endsWith('.json') || !existsSync(path) || !statSync(path).isFile()) return false;
  if (basename(dirname(path)) === 'ttt') return true;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n).toString('utf8');
    return /test-time-training\/ttt-lm|LaCT|TTTLinear|TTTMLP|block_causal_lact_swiglu/.test(head);
  } finally {
    closeSync(fd);
  }
}

/**
 * TTT goldens (../shared/golden/ttt/*.json): the layer or fast-weight op is rebuilt from the
 * golden's parameters as a model file, then every token goes through the public API — float32
 * (`loadModel` + `Session`) and float64 (`loadReferenceModel`). Pass: float32 within 1e-5 abs
 * (Muon: 1e-3 × output scale) and float64 within 1e-10 abs.
 */
export const tttGoldenRunner: ConformanceRunner = {
  name: 'ttt',
  matches: sniff,
  async run(path: string, options: ConformanceOptions): Promise<ConformanceResult> {
    const g = readTttGolden(path);
    const bytes = goldenModelFile(g);
    const tol = options.tol ?? (g.muon ? TTT_MUON_REL_TOL * g.outputScale : TTT_FP32_TOL);
    const f32 = await runGoldenFloat32(g, bytes, options.backend);
    const f64 = runGoldenFloat64(g, bytes);
    const pass = f32.maxAbsError <= tol && f64.maxAbsError <= TTT_FP64_TOL;
    return {
      path,
      kind: `ttt:${g.kind}${g.muon ? '+muon' : ''}`,
      maxAbsError: f32.maxAbsError,
      tol,
      pass,
      note: `float32 on ${f32.backend}; float64 max abs error ${f64.maxAbsError.toExponential(3)} (tol ${TTT_FP64_TOL}); ${g.streams.length}×${g.tokens} tokens; output scale ${g.outputScale.toPrecision(3)}`,
      details: { fp32MaxAbsError: f32.maxAbsError, fp32Tol: tol, fp64MaxAbsError: f64.maxAbsError, fp64Tol: TTT_FP64_TOL, outputScale: g.outputScale, tokens: g.tokens, streams: g.streams.length },
    };
  },
};
