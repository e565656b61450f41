import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EdgestreamError } from '../../errors.js';
import { WebAssemblyApi, type WasmMemory, type WasmModule } from './webassembly.js';

/** What the kernel module exports (runtime/kernels/assembly/index.ts); pointers are byte offsets. */
export interface KernelExports {
  heap_base(): number;
  panel_width(): number;
  matmul_f32(w: number, bias: number, x: number, out: number, rows: number, inDim: number, outDim: number): void;
  matmul_f32_spikes(wt: number, biasRows: number, x: number, idx: number, cnt: number, out: number, rows: number, inDim: number, outDim: number, acc: number, maxActive: number): void;
  quantizeActivations_i16(x: number, rows: number, inDim: number, qx: number, sx: number): void;
  matmul_i8(q: number, scale: number, bias: number, qx: number, sx: number, out: number, rows: number, inDim: number, outDim: number): void;
  matmul_i8_spikes(q: number, scale: number, bias: number, x: number, idx: number, cnt: number, out: number, rows: number, inDim: number, outDim: number, acc: number): void;
  spike_scan(x: number, rows: number, inDim: number, idx: number, cnt: number): number;
  relu_f32(x: number, n: number): void;
  gelu_f32(x: number, n: number): void;
  add_f32(dst: number, src: number, n: number): void;
  affine_f32(x: number, rows: number, dim: number, scale: number, shift: number): void;
  lif_f32(x: number, v: number, rows: number, dim: number, threshold: number, scale: number, shift: number): void;
  lifState_f32(x: number, table: number, rows: number, dim: number, threshold: number, scale: number, shift: number): void;
  gatherState_f32(dst: number, dstStride: number, table: number, len: number, rows: number): void;
  scatterState_f32(src: number, srcStride: number, srcRows: number, table: number, len: number, rows: number): void;
  convStep_f32(q: number, table: number, dim: number, out: number, outRows: number, rows: number): void;
  copyRows_f32(dst: number, dstStride: number, src: number, srcStride: number, srcRows: number, len: number, rows: number): void;
}

export type WasmTier = 'wasm' | 'wasm-relaxed';

const FILES: Record<WasmTier, string> = { wasm: 'kernels.wasm', 'wasm-relaxed': 'kernels-relaxed.wasm' };

/**
 * The compiled binaries live in dist/runtime/kernels/wasm (scripts/build_wasm.mjs). Running the
 * built package, they sit beside this file; running the TypeScript sources (tests, tsx), they are
 * found under the repository's dist/.
 */
function locate(file: string): string {
  const candidates = [new URL(`./${file}`, import.meta.url), new URL(`../../../dist/runtime/kernels/wasm/${file}`, import.meta.url)];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  throw new EdgestreamError('E_BACKEND', `the WASM kernels (${file}) are not built; run \`npm run build\` (looked in ${candidates.map((c) => fileURLToPath(c)).join(', ')})`);
}

const modules = new Map<WasmTier, Promise<WasmModule>>();
const unsupported = new Map<WasmTier, string | null>();

/** What a tier needs from the engine, for messages. */
function needs(tier: WasmTier): string {
  return tier === 'wasm-relaxed' ? 'relaxed SIMD (Node ≥ 22, or node --experimental-wasm-relaxed-simd)' : 'WebAssembly SIMD and shared memory';
}

/**
 * Why this engine cannot run a tier (its binary is missing, does not validate, or shared memories
 * do not exist), or null when it can. Synchronous and cached.
 */
export function wasmTierUnsupported(tier: WasmTier): string | null {
  let why = unsupported.get(tier);
  if (why === undefined) {
    if (!WebAssemblyApi) {
      unsupported.set(tier, (why = `kernel tier "${tier}" needs WebAssembly, which this JavaScript engine does not provide (e.g. node --jitless)`));
      return why;
    }
    try {
      why = WebAssemblyApi.validate(readFileSync(locate(FILES[tier]))) ? null : `kernel tier "${tier}" needs ${needs(tier)}, which this JavaScript engine does not validate`;
      if (why === null) new WebAssemblyApi.Memory({ initial: 1, maximum: 1, shared: true });
    } catch (e) {
      why = e instanceof EdgestreamError ? e.message : `kernel tier "${tier}" needs shared WebAssembly memory, which this engine does not provide (${(e as Error).message})`;
    }
    unsupported.set(tier, why);
  }
  return why;
}

/**
 * The compiled module of a tier, once per process. The feature probe is the module itself:
 * `WebAssembly.validate` on its bytes says whether this engine has every feature it uses (SIMD,
 * shared memory, and for 'wasm-relaxed' relaxed SIMD, which Node 20 enables only with
 * `--experimental-wasm-relaxed-simd` and Node ≥ 22 by default).
 */
export function kernelModule(tier: WasmTier): Promise<WasmModule> {
  let m = modules.get(tier);
  if (!m) {
    m = (async () => {
      const bytes = readFileSync(locate(FILES[tier]));
      if (!WebAssemblyApi.validate(bytes)) {
        throw new EdgestreamError('E_BACKEND', `kernel tier "${tier}" needs ${needs(tier)}, which this JavaScript engine does not validate`);
      }
      return WebAssemblyApi.compile(bytes);
    })();
    modules.set(tier, m);
    m.catch(() => modules.delete(tier));
  }
  return m;
}

export async function instantiateKernels(tier: WasmTier, memory: WasmMemory): Promise<KernelExports> {
  const instance = await WebAssemblyApi.instantiate(await kernelModule(tier), { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
