import { existsSync, statSync } from 'node:fs';
import type { ConformanceOptions, ConformanceResult, ConformanceRunner } from '../conformance.js';
import { EdgestreamError } from '../errors.js';
import { readFileBytes } from '../io/files.js';
import { readNpy, type NpyArray } from '../io/npy.js';
import { LMUFORMER_FRONTEND } from '../model/frontend_settings.js';
import { createAudioFrontend } from './audio_frontend.js';

/** Default tolerance for front-end goldens (the keyword-spotting issue: max abs error ≤ 1e-3). */
export const FRONTEND_TOL = 1e-3;
/** Bytes per push when streaming a golden WAV: odd, so frames and samples straddle chunks. */
const CHUNK_BYTES = 1001;

const stemOf = (path: string): string => path.slice(0, -'.wav'.length);

/** Stream a recording's bytes through a front end in fixed-size chunks; frames as [frames × size]. */
function streamFeatures(bytes: Uint8Array, normalize: boolean, what: string): { frames: number; size: number; data: Float32Array } {
  const fe = createAudioFrontend(LMUFORMER_FRONTEND, { normalize, what });
  const frames: Float32Array[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) frames.push(...fe.push(bytes.subarray(i, i + CHUNK_BYTES)));
  frames.push(...fe.flush());
  const data = new Float32Array(frames.length * fe.featureSize);
  frames.forEach((f, t) => data.set(f, t * fe.featureSize));
  return { frames: frames.length, size: fe.featureSize, data };
}

function compare(got: { frames: number; size: number; data: Float32Array }, expected: NpyArray, path: string): number {
  const [frames, size] = expected.shape;
  if (expected.shape.length !== 2) throw new EdgestreamError('E_GOLDEN_FORMAT', `${path}: expected a 2-D [frames, mels] array, got [${expected.shape.join(', ')}]`);
  if (frames !== got.frames || size !== got.size) return Infinity;
  let max = 0;
  for (let i = 0; i < got.data.length; i++) max = Math.max(max, Math.abs(got.data[i]! - expected.data[i]!));
  return max;
}

/**
 * A front-end golden: `<name>.wav` beside `<name>.fbank.npy` (raw log-mel, [frames, mels]) and
 * optionally `<name>.norm.npy` (normalised), produced by torchaudio's Kaldi fbank with the
 * LMUFormer settings. The WAV bytes are streamed through `createAudioFrontend` in small chunks
 * and every frame compared. Pass: max abs error ≤ tol on both arrays.
 */
export const frontendGoldenRunner: ConformanceRunner = {
  name: 'frontend',
  matches: (path) => path.endsWith('.wav') && existsSync(`${stemOf(path)}.fbank.npy`) && statSync(path).isFile(),
  async run(path: string, options: ConformanceOptions): Promise<ConformanceResult> {
    const tol = options.tol ?? FRONTEND_TOL;
    const bytes = readFileBytes(path);
    const raw = streamFeatures(bytes, false, path);
    const fbankPath = `${stemOf(path)}.fbank.npy`;
    const rawError = compare(raw, readNpy(readFileBytes(fbankPath), fbankPath), fbankPath);
    const normPath = `${stemOf(path)}.norm.npy`;
    let normError = 0;
    let note = `${raw.frames} frames × ${raw.size}; raw log-mel max abs error ${rawError.toExponential(3)}`;
    if (existsSync(normPath)) {
      normError = compare(streamFeatures(bytes, true, path), readNpy(readFileBytes(normPath), normPath), normPath);
      note += `, normalised ${normError.toExponential(3)}`;
    }
    if (!Number.isFinite(rawError) || !Number.isFinite(normError)) note += ' (frame count or width differs from the golden)';
    const maxAbsError = Math.max(rawError, normError);
    return { path, kind: 'frontend:kaldi-fbank', maxAbsError, tol, pass: maxAbsError <= tol, note };
  },
};
