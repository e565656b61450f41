import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConformanceOptions, ConformanceResult, ConformanceRunner } from '../../runtime/conformance.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy } from '../../runtime/io/npy.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { streamFrames } from '../../runtime/stream/stream_frames.js';
import { importLmuformerCheckpoint } from './import_checkpoint.js';
import { isSpiking } from './variants.js';

/** Default tolerance (specs/lmuformer.md; issue: max abs error ≤ 1e-4). */
export const LMUFORMER_TOL = 1e-4;
/** Spiking variants: fraction of frames that must be within tolerance (rare spike-tie flips allowed). */
export const SPIKING_FRAME_FRACTION = 0.99;

/**
 * A golden set directory (`model.pth`, `input.npy [batch, frames, mels]`, `all_seq.npy
 * [frames, batch, classes]`): import the checkpoint exactly as `edgestream import` does, stream
 * every batch row frame by frame through the public API, and compare every output frame.
 * Pass: non-spiking, max abs error ≤ tol; spiking, ≥ 99 % of frames ≤ tol and the same argmax
 * on every frame.
 */
export const lmuformerGoldenRunner: ConformanceRunner = {
  name: 'lmuformer',
  matches: (path) => existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'model.pth')) && existsSync(join(path, 'all_seq.npy')),
  async run(dir: string, options: ConformanceOptions): Promise<ConformanceResult> {
    const tol = options.tol ?? LMUFORMER_TOL;
    const imported = importLmuformerCheckpoint(readFileBytes(join(dir, 'model.pth')), { arch: 'auto', what: join(dir, 'model.pth') });
    const model = await loadModel(imported.bytes, { backend: options.backend ?? 'auto' });
    const input = readNpy(readFileBytes(join(dir, 'input.npy')), 'input.npy');
    const expected = readNpy(readFileBytes(join(dir, 'all_seq.npy')), 'all_seq.npy');
    if (input.shape.length !== 3 || expected.shape.length !== 3) throw new EdgestreamError('E_GOLDEN_FORMAT', `${dir}: input.npy must be 3-D [batch, frames, mels] and all_seq.npy [frames, batch, classes]`);
    const [batch, frames] = input.shape as [number, number, number];
    const K = model.outputDim;
    if (expected.shape[0] !== frames || expected.shape[1] !== batch || expected.shape[2] !== K) {
      throw new EdgestreamError('E_GOLDEN_FORMAT', `${dir}: all_seq.npy is [${expected.shape.join(', ')}], expected [${frames}, ${batch}, ${K}]`);
    }
    const got = streamFrames(model, input.data, batch, frames);
    const cmp = compareFrames(got, expected.data, frames * batch, K, tol);
    const spiking = isSpiking(imported.variant);
    const fraction = cmp.framesWithin / (frames * batch);
    const pass = spiking ? fraction >= SPIKING_FRAME_FRACTION && cmp.argmaxMismatches === 0 : cmp.maxAbsError <= tol;
    return {
      path: dir,
      kind: `lmuformer:${imported.variant}`,
      maxAbsError: cmp.maxAbsError,
      tol,
      pass,
      note: `${batch}×${frames} frames on ${model.backend}; ${(fraction * 100).toFixed(2)} % of frames within tol; argmax differs on ${cmp.argmaxMismatches}`,
    };
  },
};

export interface FrameComparison {
  maxAbsError: number;
  framesWithin: number;
  argmaxMismatches: number;
}

/** Compare `count` output vectors of length K. */
export function compareFrames(got: ArrayLike<number>, want: ArrayLike<number>, count: number, K: number, tol: number): FrameComparison {
  let maxAbsError = 0;
  let framesWithin = 0;
  let argmaxMismatches = 0;
  for (let f = 0; f < count; f++) {
    let err = 0;
    let ag = 0;
    let aw = 0;
    for (let k = 0; k < K; k++) {
      const g = got[f * K + k]!;
      const w = want[f * K + k]!;
      err = Math.max(err, Math.abs(g - w));
      if (g > got[f * K + ag]!) ag = k;
      if (w > want[f * K + aw]!) aw = k;
    }
    maxAbsError = Math.max(maxAbsError, Number.isNaN(err) ? Infinity : err);
    if (err <= tol) framesWithin++;
    if (ag !== aw) argmaxMismatches++;
  }
  return { maxAbsError, framesWithin, argmaxMismatches };
}
