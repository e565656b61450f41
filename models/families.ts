import type { ModelFamily } from '../runtime/model/family.js';
import { lmuformerGoldenRunner } from './lmuformer/conformance.js';
import { prepareLmuformer } from './lmuformer/family.js';
import { lmuformerStepGraph } from './lmuformer/onnx_graph.js';
import { tttGoldenRunner } from './ttt/conformance.js';
import { prepareTttModel } from './ttt/family.js';

/**
 * Every model family edgestream ships, by the `arch` of its model files, with everything a family
 * provides: the loader (`prepare`), the ONNX step-graph exporter and the golden conformance
 * runner. This is the one list; models/register.ts hands it to the runtime.
 */
export const MODEL_FAMILIES: readonly ModelFamily[] = [
  { arch: 'lmuformer', prepare: prepareLmuformer, exportStepGraph: lmuformerStepGraph, goldenRunner: lmuformerGoldenRunner },
  { arch: 'ttt', prepare: prepareTttModel, goldenRunner: tttGoldenRunner },
];
