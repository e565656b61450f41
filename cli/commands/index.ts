import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerBenchCluster } from './bench_cluster.js';
import { registerBenchMqtt } from './bench_mqtt.js';
import { registerBenchTtt } from './bench_ttt.js';
import { registerClassify } from './classify.js';
import { registerCluster } from './cluster.js';
import { registerConformance } from './conformance.js';
import { registerEval } from './eval.js';
import { registerExportOnnx } from './export_onnx.js';
import { registerDemo } from './demo.js';
import { registerFeatures } from './features.js';
import { registerImport } from './import.js';
import { registerInspect } from './inspect.js';
import { registerListen } from './listen.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';

/** Every command, in the order `edgestream --help` lists them. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerImport,
  registerPredict,
  registerFeatures,
  registerClassify,
  registerListen,
  registerEval,
  registerInspect,
  registerConformance,
  registerExportOnnx,
  registerBench,
  registerBenchTtt,
  registerServe,
  registerDemo,
  registerBenchMqtt,
  registerCluster,
  registerBenchCluster,
];
