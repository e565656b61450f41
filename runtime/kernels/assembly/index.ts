// The edgestream WASM kernel module (AssemblyScript → WebAssembly SIMD). The JS glue in
// ../wasm/ owns the memory (imported, shared), packs the weights and hands out pointers; nothing
// here allocates. The JS tier (../js/) is the oracle every export is tested against.
export { dense_f32, dense_f32_spikes } from './dense_f32';
export { dense_i8q, dense_i8_spikes, quantize_i16 } from './dense_i8';
export { spike_scan } from './spikes';
export { add_f32, affine_f32, gelu_f32, lif_f32, relu_f32 } from './ops';

/** First byte the module's own data might use up to; the JS heap starts above it. */
export function heap_base(): usize {
  return __heap_base;
}
