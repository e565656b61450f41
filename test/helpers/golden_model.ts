import { join } from 'node:path';
import { importLmuformerCheckpoint } from '../../models/lmuformer/import_checkpoint.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy, type NpyArray } from '../../runtime/io/npy.js';
import { loadModel, type LoadModelOptions } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { GOLDEN } from './paths.js';

/** The model file bytes of a golden LMUFormer set (imported in memory). */
export function goldenModelBytes(set: string): Uint8Array {
  return importLmuformerCheckpoint(readFileBytes(join(GOLDEN, 'lmuformer', set, 'model.pth')), { arch: 'auto' }).bytes;
}

export async function goldenModel(set: string, options: LoadModelOptions = { backend: 'js' }): Promise<Model> {
  return loadModel(goldenModelBytes(set), options);
}

export function goldenInput(set: string): NpyArray {
  return readNpy(readFileBytes(join(GOLDEN, 'lmuformer', set, 'input.npy')));
}

/** Frame t of batch row b of a golden input. */
export function frameOf(input: NpyArray, b: number, t: number): Float32Array {
  const [, T, F] = input.shape as [number, number, number];
  return Float32Array.from(input.data.subarray((b * T + t) * F, (b * T + t + 1) * F));
}
