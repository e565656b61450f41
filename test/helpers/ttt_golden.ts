import { join } from 'node:path';
import { goldenModelFile, readTttGolden, type TttGolden } from '../../models/ttt/golden.js';
import { loadReferenceModel } from '../../models/ttt/reference.js';
import { withRuntimeOptions } from '../../models/ttt/runtime_options.js';
import type { RuntimeOptions } from '../../models/ttt/config.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { GOLDEN } from './paths.js';

export function tttGolden(name: string): { g: TttGolden; bytes: Uint8Array } {
  const g = readTttGolden(join(GOLDEN, 'ttt', `${name}.json`));
  return { g, bytes: goldenModelFile(g) };
}

export function frame(g: TttGolden, t: number, stream = 0): Float64Array {
  return g.streams[stream]!.frames.subarray(t * g.inputDim, (t + 1) * g.inputDim);
}

/** Outputs of the float32 public API for the whole golden stream 0 (optionally other runtime options). */
export async function run32(name: string, runtime: Partial<RuntimeOptions> = {}): Promise<Float32Array[]> {
  const { g, bytes } = tttGolden(name);
  const model = await loadModel(withRuntimeOptions(bytes, runtime), { backend: 'js' });
  const s = model.createSession();
  const out: Float32Array[] = [];
  for (let t = 0; t < g.tokens; t++) out.push(...s.push(frame(g, t)));
  return out;
}

export function run64(name: string, runtime: Partial<RuntimeOptions> = {}): Float64Array[] {
  const { g, bytes } = tttGolden(name);
  const ref = loadReferenceModel(withRuntimeOptions(bytes, runtime));
  const s = ref.createSession();
  const out: Float64Array[] = [];
  for (let t = 0; t < g.tokens; t++) out.push(s.push(frame(g, t)));
  return out;
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
