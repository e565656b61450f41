import { EdgestreamError } from '../../runtime/errors.js';
import type { TensorToWrite } from '../../runtime/io/safetensors.js';
import { decodeModelFile, encodeModelFile } from '../../runtime/model/model_file.js';
import { parseConfig, RuntimeOptionsSchema, type RuntimeOptions } from './config.js';

/**
 * A copy of a `ttt` model file with different runtime options (schedule, Muon spreading, frozen
 * fast weights). The trained weights are untouched; only `config.runtime` changes.
 *
 *   const frozen = withRuntimeOptions(bytes, { fast_weight_updates: false });
 */
export function withRuntimeOptions(bytes: Uint8Array, options: Partial<RuntimeOptions>): Uint8Array {
  const file = decodeModelFile(bytes);
  if (file.metadata.arch !== 'ttt') throw new EdgestreamError('E_ARCH_MISMATCH', `runtime options apply to ttt models, not "${file.metadata.arch}"`);
  const current = (file.metadata.config.runtime ?? {}) as Record<string, unknown>;
  const runtime = parseConfig(RuntimeOptionsSchema, { ...current, ...options }, 'runtime options', 'E_CONFIG');
  const tensors = new Map<string, TensorToWrite>();
  for (const [k, t] of file.tensors) tensors.set(k, { shape: t.shape, data: t.f64 ?? t.data });
  const { format: _f, version: _v, ...meta } = file.metadata;
  return encodeModelFile({ ...meta, config: { ...file.metadata.config, runtime } }, tensors);
}
