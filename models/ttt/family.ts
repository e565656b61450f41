import { EdgestreamError } from '../../runtime/errors.js';
import type { ModelDescription, PreparedModel } from '../../runtime/model/family.js';
import type { ModelFile } from '../../runtime/model/model_file.js';
import { bindParams, parseSpec, specDims, specParams, type TttModelSpec } from './model_spec.js';
import type { ParamSource } from './numeric.js';
import { shapeSize } from './params.js';
import { TttProgram } from './program.js';

/** Tensors of a model file as float64 (F64 tensors at full precision, others widened). */
export function fileTensors(file: ModelFile, what: string): Map<string, { shape: readonly number[]; values: Float64Array }> {
  const out = new Map<string, { shape: readonly number[]; values: Float64Array }>();
  for (const [k, t] of file.tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'F64' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      throw new EdgestreamError('E_MODEL_FORMAT', `${what}: tensor ${k} has dtype ${t.dtype}; TTT parameters must be floating point`, { key: k });
    }
    out.set(k, { shape: t.shape, values: t.f64 ?? Float64Array.from(t.data as Float32Array) });
  }
  return out;
}

/** Validate a model file of arch `ttt`: its spec and a source for its parameters. */
export function prepareTtt(file: ModelFile, what = 'model file'): { spec: TttModelSpec; param: ParamSource } {
  const spec = parseSpec(file.metadata.variant, file.metadata.config, what);
  const param = bindParams(spec, fileTensors(file, what), what);
  const { outputDim } = specDims(spec);
  if (file.metadata.labels.length !== 0 && file.metadata.labels.length !== outputDim) {
    throw new EdgestreamError('E_MODEL_FORMAT', `${what}: the model has ${outputDim} outputs but ${file.metadata.labels.length} labels`);
  }
  return { spec, param };
}

function describe(spec: TttModelSpec, program: TttProgram): ModelDescription {
  let parameters = 0;
  for (const s of specParams(spec).values()) parameters += shapeSize(s);
  const details: Record<string, string | number | boolean> = { variant: spec.variant, precision: program.precision };
  if (spec.variant === 'stack') {
    details.inputDim = spec.config.input_dim;
    details.outputDim = spec.config.output_dim;
    details.hiddenSize = spec.config.hidden_size;
    details.layers = spec.config.layers.map((l) => (l.kind === 'ttt' ? `ttt_${l.ttt_layer_type}` : l.use_muon ? 'lact+muon' : 'lact')).join(', ');
  } else if (spec.variant === 'layer') {
    const l = spec.config.layer;
    details.layer = l.kind === 'ttt' ? `ttt_${l.ttt_layer_type}` : 'lact';
    details.hiddenSize = l.hidden_size;
  } else {
    details.heads = spec.config.heads;
    details.chunkSize = spec.config.chunk_size;
  }
  details.schedule = spec.runtime.schedule;
  details.fastWeightUpdates = spec.runtime.fast_weight_updates;
  return { parameters, macsPerFrame: Math.round(program.macsPerToken), details };
}

/** Prepare an `arch: "ttt"` model file: stream models built from TTT-Linear/MLP and LaCT layers. */
export function prepareTttModel(file: ModelFile): PreparedModel {
  const { spec, param } = prepareTtt(file);
  const { inputDim, outputDim } = specDims(spec);
  // Build once eagerly on the float64 path without kernels: shape errors surface at load time.
  const probe = new TttProgram(spec, param, null, { precision: 'float64' });
  return {
    variant: spec.variant,
    config: { ...(file.metadata.config) },
    inputDim,
    outputDim,
    delay: 0,
    createProgram: (kernels, options = {}) => new TttProgram(spec, param, kernels, { maxBatch: options.maxBatch ?? 1 }),
    describe: () => describe(spec, probe),
  };
}
