import { EdgestreamError } from '../errors.js';
import { createJsKernels } from './js/index.js';
import { TIERS, type Kernels, type Tier } from './types.js';
import { createWasmKernels } from './wasm/index.js';
import { wasmTierSupported } from './wasm/module.js';

/**
 * Kernel tiers by name. `auto` picks the fastest tier this engine validates (WASM relaxed SIMD,
 * then WASM SIMD, else plain JS). Tiers register a factory here, with a synchronous probe of
 * whether this engine can run them; the JS tier is always present.
 */
type KernelFactory = () => Promise<Kernels>;

const factories = new Map<Tier, KernelFactory>([
  ['js', async () => createJsKernels()],
  ['wasm', () => createWasmKernels('wasm')],
  ['wasm-relaxed', () => createWasmKernels('wasm-relaxed')],
]);
const probes = new Map<Tier, () => boolean>([
  ['wasm', () => wasmTierSupported('wasm')],
  ['wasm-relaxed', () => wasmTierSupported('wasm-relaxed')],
]);
/** Preference order for `auto`. */
const AUTO_ORDER: Tier[] = ['wasm-relaxed', 'wasm', 'js'];

/** The tiers that run on this engine (e.g. no 'wasm-relaxed' on Node 20 without its V8 flag). */
export function availableTiers(): Tier[] {
  return TIERS.filter((t) => factories.has(t) && (probes.get(t)?.() ?? true));
}

export async function createKernels(tier: Tier | 'auto' = 'auto'): Promise<Kernels> {
  if (tier === 'auto') {
    for (const t of AUTO_ORDER) {
      const f = factories.get(t);
      if (!f) continue;
      try {
        return await f();
      } catch {
        // tier probe failed on this engine: fall through to the next one
      }
    }
    return createJsKernels();
  }
  const f = factories.get(tier);
  if (!f) {
    throw new EdgestreamError('E_BACKEND', `kernel tier "${tier}" is not available here. Available: ${availableTiers().join(', ')}`);
  }
  return f();
}
