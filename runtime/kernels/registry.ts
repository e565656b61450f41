import { describeError, EdgestreamError } from '../errors.js';
import { moduleLogger } from '../log.js';
import { createJsKernels } from './js/index.js';
import { TIERS, type Kernels, type Tier } from './types.js';
import { createWasmKernels } from './wasm/index.js';
import { wasmTierUnsupported } from './wasm/module.js';

/**
 * Kernel tiers by name. `auto` picks the fastest tier this engine runs (WASM relaxed SIMD, then
 * WASM SIMD, else plain JS) and says which faster tiers it passed over and why. Each tier has a
 * factory and, for the WASM tiers, a synchronous probe naming what this engine lacks; the JS tier
 * is always present.
 */
type KernelFactory = () => Promise<Kernels>;

const log = moduleLogger('kernels');

const factories = new Map<Tier, KernelFactory>([
  ['js', async () => createJsKernels()],
  ['wasm', () => createWasmKernels('wasm')],
  ['wasm-relaxed', () => createWasmKernels('wasm-relaxed')],
]);
/** Why this engine cannot run a tier, or null. */
const probes = new Map<Tier, () => string | null>([
  ['wasm', () => wasmTierUnsupported('wasm')],
  ['wasm-relaxed', () => wasmTierUnsupported('wasm-relaxed')],
]);
/** Preference order for `auto`. */
const AUTO_ORDER: Tier[] = ['wasm-relaxed', 'wasm', 'js'];

/** A faster tier that `auto` did not take. */
export interface SkippedTier {
  tier: Tier;
  /** Why, in one line (the probe's finding or the error the tier failed with). */
  reason: string;
  /**
   * true: this engine lacks a feature the tier needs (e.g. relaxed SIMD on Node 20 without its
   * flag), which is expected; false: the tier should have run and failed to start.
   */
  unsupported: boolean;
}

export interface KernelChoice {
  kernels: Kernels;
  /** The faster tiers passed over, fastest first (empty when a tier was named). */
  skipped: SkippedTier[];
}

/** The tiers that run on this engine (e.g. no 'wasm-relaxed' on Node 20 without its V8 flag). */
export function availableTiers(): Tier[] {
  return TIERS.filter((t) => factories.has(t) && (probes.get(t)?.() ?? null) === null);
}

/**
 * A kernel tier and, for `auto`, the faster tiers it passed over. A tier that fails to start
 * although this engine should run it is logged as a warning naming the tier and the error, and so
 * is landing on the plain JS tier when a WASM tier was wanted: both cost a large factor in speed.
 */
export async function chooseKernels(tier: Tier | 'auto' = 'auto'): Promise<KernelChoice> {
  if (tier !== 'auto') {
    const f = factories.get(tier);
    if (!f) {
      throw new EdgestreamError('E_BACKEND', `kernel tier "${tier}" is not available here. Available: ${availableTiers().join(', ')}`);
    }
    return { kernels: await f(), skipped: [] };
  }
  const skipped: SkippedTier[] = [];
  for (const t of AUTO_ORDER) {
    const why = probes.get(t)?.() ?? null;
    if (why !== null) {
      skipped.push({ tier: t, reason: why, unsupported: true });
      continue;
    }
    try {
      const kernels = await factories.get(t)!();
      if (t === 'js' && skipped.length > 0) {
        log.warn({ tier: 'js', skipped }, `kernel tiers ${skipped.map((s) => s.tier).join(', ')} cannot run here (see skipped); using the plain JS tier, many times slower`);
      } else if (skipped.length > 0) {
        log.debug({ tier: t, skipped }, `kernel tier ${t}`);
      }
      return { kernels, skipped };
    } catch (e) {
      const reason = describeError(e);
      skipped.push({ tier: t, reason, unsupported: false });
      log.warn({ tier: t, err: reason }, `kernel tier ${t} failed to start: ${reason}; trying the next tier`);
    }
  }
  // Unreachable: the JS tier always starts.
  throw new EdgestreamError('E_BACKEND', `no kernel tier could start: ${skipped.map((s) => `${s.tier}: ${s.reason}`).join('; ')}`);
}

export async function createKernels(tier: Tier | 'auto' = 'auto'): Promise<Kernels> {
  return (await chooseKernels(tier)).kernels;
}
