import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerConformance } from './conformance.js';
import { registerExportOnnx } from './export_onnx.js';
import { registerImport } from './import.js';
import { registerInspect } from './inspect.js';
import { registerPredict } from './predict.js';

/** Every command, in the order `edgestream --help` lists them. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerImport,
  registerPredict,
  registerInspect,
  registerConformance,
  registerExportOnnx,
  registerBench,
];
