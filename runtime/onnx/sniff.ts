/**
 * Tell ONNX bytes from an edgestream model file without parsing either (and without loading
 * onnxruntime). A safetensors file starts with a little-endian u64 header length and a '{'; an
 * ONNX ModelProto starts with a protobuf field tag, in practice `ir_version` (field 1, varint: 0x08).
 */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (bytes.length < 9) return false;
  const safetensors = bytes[8] === 0x7b && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0;
  return !safetensors && bytes[0] === 0x08;
}
