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

/** A small seeded generator for test data (mulberry32). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
