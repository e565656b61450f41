import { EdgestreamError } from '../errors.js';
import { modelFamily } from '../model/family_registry.js';
import { decodeModelFile, type ModelFile } from '../model/model_file.js';

/** Export an edgestream model file (bytes or decoded) to ONNX step-model bytes, with its family's exporter. */
export function exportStepModel(model: Uint8Array | ModelFile, what = 'model file'): Uint8Array {
  const file = model instanceof Uint8Array ? decodeModelFile(model, what) : model;
  const family = modelFamily(file.metadata.arch, what);
  if (!family.exportStepGraph) throw new EdgestreamError('E_BACKEND', `${what}: ONNX export is not available for ${file.metadata.arch} models in this build`);
  return family.exportStepGraph(file);
}
