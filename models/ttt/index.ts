/** Public API of the test-time-training models (see README, "Test-time-training layers"). */
export { prepareTttModel, prepareTtt } from './family.js';
export { loadReferenceModel, ReferenceModel, ReferenceSession } from './reference.js';
export { withRuntimeOptions } from './runtime_options.js';
export { readTttGolden, goldenModelFile, type TttGolden } from './golden.js';
export { tttGoldenRunner, TTT_FP32_TOL, TTT_FP64_TOL, TTT_MUON_REL_TOL } from './conformance.js';
export type { LayerConfig, TttLayerConfig, LactLayerConfig, RuntimeOptions, Schedule } from './config.js';
export type { TttModelSpec, StackConfig } from './model_spec.js';
export { runTttBench, type TttBenchOptions, type TttBenchResult } from './bench.js';
