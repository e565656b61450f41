import { createKernels } from '../../runtime/kernels/registry.js';
import type { Kernels, Tier } from '../../runtime/kernels/types.js';

/**
 * The WASM tiers and, for each, its kernels or the reason it cannot run here (for a test skip).
 * 'wasm-relaxed' needs relaxed SIMD: Node ≥ 22, or Node 20 with --experimental-wasm-relaxed-simd
 * (scripts/test.mjs passes that flag when the engine knows it, so both tiers are tested).
 */
export async function wasmTiers(): Promise<{ tier: Tier; kernels: Kernels | null; skip: string | false }[]> {
  const out: { tier: Tier; kernels: Kernels | null; skip: string | false }[] = [];
  for (const tier of ['wasm', 'wasm-relaxed'] as const) {
    try {
      out.push({ tier, kernels: await createKernels(tier), skip: false });
    } catch (e) {
      out.push({ tier, kernels: null, skip: `${tier} unavailable: ${(e as Error).message}` });
    }
  }
  return out;
}
