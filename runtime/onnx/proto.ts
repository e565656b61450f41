import onnxProto from 'onnx-proto';

/**
 * The ONNX protobuf schema (ModelProto, GraphProto, TensorProto...) as generated static code from
 * the `onnx-proto` package. Everything here reads and writes ONNX files without onnxruntime.
 */
export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type IModelProto = onnxProto.onnx.IModelProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** TensorProto.DataType values used by edgestream. */
export const DT = {
  FLOAT: 1,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;

/** The IR version and default-domain opset edgestream writes (ONNX 1.10: IR 8, opset 15). */
export const IR_VERSION = 8;
export const OPSET = 15;
