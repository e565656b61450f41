import { createKernels } from '../../runtime/kernels/registry.js';
import type { BackendName } from '../../runtime/model/model.js';

// A record, so that a backend added to BackendName fails to compile here until the tests know it.
const EVERY_BACKEND: Record<BackendName, true> = { js: true, wasm: true, 'wasm-relaxed': true, onnx: true };

/** Every backend a model can run on: the kernel tiers, then onnxruntime-node. */
export const BACKENDS = Object.keys(EVERY_BACKEND) as readonly BackendName[];

const cache = new Map<BackendName, Promise<string | false>>();

/**
 * Why a backend cannot run on this machine (a test skip naming the reason), or false when it can.
 * 'wasm-relaxed' needs relaxed SIMD: Node ≥ 22, or Node 20 with --experimental-wasm-relaxed-simd
 * (scripts/test.mjs passes that flag when the engine knows it).
 */
export function backendUnavailable(backend: BackendName): Promise<string | false> {
  let r = cache.get(backend);
  if (!r) {
    r = (async () => {
      try {
        if (backend === 'onnx') await import('onnxruntime-node');
        else (await createKernels(backend)).dispose?.();
        return false;
      } catch (e) {
        return `${backend} unavailable here: ${(e as Error).message}`;
      }
    })();
    cache.set(backend, r);
  }
  return r;
}
