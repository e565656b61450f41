import type { Kernels } from '../kernels/types.js';
import { hasModelFamily, modelFamily } from '../model/family_registry.js';
import type { ModelDescription, PreparedModel, ProgramOptions } from '../model/family.js';
import { Model, type ModelArch } from '../model/model.js';
import { decodeModelFile, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelMetadata } from '../model/model_file.js';
import { EdgestreamError } from '../errors.js';
import { exportStepModel } from './exporters.js';
import { OrtSession, type OrtOptions } from './ort.js';
import { isOnnxInput } from './sniff.js';
import { decodeOnnx, readStepModel, type StepModelInfo } from './step_convention.js';
import { OnnxStepProgram } from './step_program.js';

export interface OnnxLoadOptions extends OrtOptions {
  /** Names the model in error messages (a path). */
  what?: string;
  /** Refused here: int8 weights are a kernel-tier option. */
  int8?: boolean;
}

/**
 * The ONNX backend: a model that runs through onnxruntime-node as a step graph.
 *  - an edgestream model file (.safetensors) is exported to a step graph in memory first;
 *  - ONNX bytes are taken as a user's step model and checked against the step convention.
 * Programs share one onnxruntime session (state is explicit, so the session holds none).
 */
export async function loadOnnxModel(bytes: Uint8Array, options: OnnxLoadOptions = {}): Promise<Model> {
  const what = options.what ?? 'model';
  if (options.int8) throw new EdgestreamError('E_BACKEND', 'int8 weights are a kernel-tier option; the onnx backend runs float32 graphs');
  let onnxBytes: Uint8Array;
  let metadata: Omit<ModelMetadata, 'arch'> & { arch: ModelArch };
  let family: PreparedModel | null = null;
  let fileMetadata: ModelMetadata | null = null;
  if (isOnnxInput(bytes, what)) {
    onnxBytes = bytes;
  } else {
    const file = decodeModelFile(bytes, what);
    family = modelFamily(file.metadata.arch, what).prepare(file);
    fileMetadata = file.metadata;
    onnxBytes = exportStepModel(file, what);
  }
  const info = readStepModel(decodeOnnx(onnxBytes, what), what);
  if (fileMetadata) {
    metadata = fileMetadata;
  } else {
    const src = info.source;
    const arch: ModelArch = src && hasModelFamily(src.arch) ? src.arch : 'onnx-step';
    metadata = {
      format: MODEL_FORMAT, version: MODEL_FORMAT_VERSION, arch, variant: src?.variant ?? 'onnx-step', config: src?.config ?? {},
      labels: info.labels, frontend: info.frontend,
      ...(src?.name !== undefined && { name: src.name }), ...(src?.modelVersion !== undefined && { modelVersion: src.modelVersion }),
    };
  }
  const session = OrtSession.load(onnxBytes, what, options);
  const prepared: PreparedModel = family ?? stepModelPrepared(info, metadata.variant, metadata.config, session);
  return new Model(metadata, bytes, prepared, 'onnx', (o: ProgramOptions) => {
    if (o.headWindow) throw new EdgestreamError('E_BACKEND', 'the onnx backend runs the exported step graph, whose head is the official cumulative mean; a windowed head needs a kernel tier (js, wasm)');
    return new OnnxStepProgram(session, info, o.maxBatch ?? 1);
  }, null, () => session.dispose());
}

function stepModelPrepared(info: StepModelInfo, variant: string, config: Record<string, unknown>, session: OrtSession): PreparedModel {
  return {
    variant,
    config,
    inputDim: info.inputDim,
    outputDim: info.outputDim,
    delay: info.delay,
    createProgram: (_kernels: Kernels, o: ProgramOptions = {}) => new OnnxStepProgram(session, info, o.maxBatch ?? 1),
    describe: (): ModelDescription => ({
      parameters: info.parameters,
      macsPerFrame: info.macsPerFrame,
      details: { format: 'onnx step model', stateColumns: info.stateSize, batch: info.batchLimit === 1 ? 'fixed 1' : 'dynamic' },
    }),
  };
}
