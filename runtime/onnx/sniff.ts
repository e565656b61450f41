/**
 * Tell ONNX bytes from an edgestream model file without parsing either (and without loading
 * onnxruntime). A safetensors file starts with a little-endian u64 header length and a '{'; an
 * ONNX ModelProto starts with a protobuf field tag, in practice `ir_version` (field 1, varint: 0x08).
 */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  return !looksLikeSafetensors(bytes) && bytes.length > 0 && bytes[0] === 0x08;
}

export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  return bytes.length >= 9 && bytes[8] === 0x7b && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0;
}

/** ONNX bytes, or a file named `.onnx` that is not an edgestream model (so a damaged ONNX file gets ONNX errors). */
export function isOnnxInput(bytes: Uint8Array, what: string): boolean {
  return looksLikeOnnx(bytes) || (/\.onnx$/i.test(what) && !looksLikeSafetensors(bytes));
}
