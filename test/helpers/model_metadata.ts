import { decodeModelFile, encodeModelFile, type ModelMetadata } from '../../runtime/model/model_file.js';

/** The same model file with some metadata changed (labels, decision defaults, …): same weights. */
export function withMetadata(bytes: Uint8Array, patch: Partial<Omit<ModelMetadata, 'format' | 'version'>>): Uint8Array {
  const { metadata, tensors } = decodeModelFile(bytes);
  const { format: _f, version: _v, ...rest } = metadata;
  return encodeModelFile({ ...rest, ...patch }, tensors);
}
