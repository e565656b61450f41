import type { Command } from 'commander';
import { registerConformance } from './conformance.js';
import { registerDemo } from './demo.js';
import { registerFeatures } from './features.js';
import { registerImport } from './import.js';
import { registerInspect } from './inspect.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';

/** Every command, in the order `edgestream --help` lists them. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerImport,
  registerPredict,
  registerFeatures,
  registerInspect,
  registerConformance,
  registerServe,
  registerDemo,
];
