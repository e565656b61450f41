import { EdgestreamError } from '../errors.js';
import { readFileBytes } from '../io/files.js';
import { chooseKernels } from '../kernels/registry.js';
import type { Tier } from '../kernels/types.js';
import { modelFamily } from './family_registry.js';
import { Model, type BackendName } from './model.js';
import { decodeModelFile } from './model_file.js';
import { isOnnxInput } from '../onnx/sniff.js';

export interface LoadModelOptions {
  /** `auto` (default) picks the fastest kernel tier available; `onnx` runs through onnxruntime-node. */
  backend?: BackendName | 'auto';
  /** Quantise the large weight matrices to int8 at load (opt-in; see README for the accuracy cost). */
  int8?: boolean;
  /** onnx backend: onnxruntime intra-op threads (default 1, set explicitly). */
  intraOpNumThreads?: number;
}

/** Pluggable non-kernel backends (the ONNX backend registers itself here). */
type BackendLoader = (model: { bytes: Uint8Array; options: LoadModelOptions; what: string }) => Promise<Model>;
type Owns = (bytes: Uint8Array, what: string) => boolean;
const backendLoaders = new Map<string, { load: BackendLoader; owns?: Owns }>();
/** `owns` recognises files only this backend runs (so `auto` picks it and kernel tiers refuse them). */
export function registerBackendLoader(name: BackendName, loader: BackendLoader, owns?: Owns): void {
  backendLoaders.set(name, { load: loader, ...(owns && { owns }) });
}

// The ONNX backend, loaded on first use so that onnxruntime's native library stays out of the
// default path. It also runs ONNX step models (docs/onnx.md).
registerBackendLoader('onnx', async ({ bytes, options, what }) => (await import('../onnx/backend.js')).loadOnnxModel(bytes, { what, ...options }), isOnnxInput);

/**
 * Load an edgestream model file (`.safetensors` written by `edgestream import` or a training
 * recipe) from a path or its bytes. Validates the file completely before returning.
 */
export async function loadModel(pathOrBytes: string | Uint8Array, options: LoadModelOptions = {}): Promise<Model> {
  const bytes = typeof pathOrBytes === 'string' ? readFileBytes(pathOrBytes) : pathOrBytes;
  const what = typeof pathOrBytes === 'string' ? pathOrBytes : 'model file';
  const backend = options.backend ?? 'auto';
  const custom = backendLoaders.get(backend);
  if (custom) return custom.load({ bytes, options, what });
  for (const [name, b] of backendLoaders) {
    if (!b.owns?.(bytes, what)) continue;
    if (backend === 'auto') return b.load({ bytes, options, what });
    throw new EdgestreamError('E_BACKEND', `${what} is a model for the ${name} backend; it cannot run on ${backend} (use --backend ${name} or auto)`);
  }
  if (backend === 'onnx') throw new EdgestreamError('E_BACKEND', 'the onnx backend is not available in this build');
  const file = decodeModelFile(bytes, what);
  const prepared = modelFamily(file.metadata.arch, what).prepare(file);
  const { kernels, skipped } = await chooseKernels(backend as Tier | 'auto');
  const int8 = options.int8 === true;
  return new Model(file.metadata, bytes, prepared, kernels.tier, (o) => prepared.createProgram(kernels, { int8, ...o }), kernels, () => kernels.dispose?.(), Object.freeze(skipped));
}
