// The edgestream WASM kernel module (AssemblyScript → WebAssembly SIMD). The JS glue in
// ../wasm/ owns the memory (imported, shared), packs the weights and hands out pointers; nothing
// here allocates. The JS tier (../js/) is the oracle every export is tested against.
// Names: an export is the `Kernels` method it serves (../types.ts), then its dtype and variant
// (`lifState` → `lifState_f32`, `matmul` → `matmul_f32`, `matmul_i8_spikes`), so that one grep for
// the method finds every tier's version; `spike_scan`, `panel_width` and `heap_base` serve no
// single method.
export { matmul_f32, matmul_f32_spikes, panel_width } from './matmul_f32';
export { matmul_i8, matmul_i8_spikes, quantizeActivations_i16 } from './matmul_i8';
export { spike_scan } from './spikes';
export { add_f32, affine_f32, gelu_f32, lif_f32, lifState_f32, relu_f32 } from './ops';
export { convStep_f32, copyRows_f32, gatherState_f32, scatterState_f32 } from './rows';

/** First byte the module's own data might use up to; the JS heap starts above it. */
export function heap_base(): usize {
  return __heap_base;
}
