import { lmuformerStepGraph } from '../../models/lmuformer/onnx_graph.js';
import { EdgestreamError } from '../errors.js';
import { decodeModelFile, type Arch, type ModelFile } from '../model/model_file.js';

/** Writes a model family's step graph (ONNX step convention) from a validated model file. */
export type StepGraphExporter = (file: ModelFile) => Uint8Array;

/** Every family that can be exported to ONNX, by the model file's `arch`. */
export const STEP_GRAPH_EXPORTERS: Partial<Record<Arch, StepGraphExporter>> = {
  lmuformer: lmuformerStepGraph,
};

/** Export an edgestream model file (bytes or decoded) to ONNX step-model bytes. */
export function exportStepModel(model: Uint8Array | ModelFile, what = 'model file'): Uint8Array {
  const file = model instanceof Uint8Array ? decodeModelFile(model, what) : model;
  const exporter = STEP_GRAPH_EXPORTERS[file.metadata.arch];
  if (!exporter) throw new EdgestreamError('E_BACKEND', `${what}: ONNX export is not available for ${file.metadata.arch} models in this build`);
  return exporter(file);
}
