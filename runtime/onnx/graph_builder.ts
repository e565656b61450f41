import { DT, IR_VERSION, OPSET, onnx, type IAttributeProto, type INodeProto, type ITensorProto, type IValueInfoProto } from './proto.js';

/** An attribute value: numbers are INT when integral unless given as `{ f: x }`. */
export type AttrValue = number | { f: number } | number[] | string;

export interface ValueSpec {
  name: string;
  /** TensorProto.DataType (DT.FLOAT, ...). */
  elemType: number;
  /** Fixed sizes or symbolic names (`'N'` for the batch). */
  dims: readonly (number | string)[];
}

/**
 * Writes an ONNX graph node by node (tinygrad-style: the whole graph is plain code). Each `op`
 * returns the name of its output value; names are made unique with a prefix and a counter.
 * Nodes may be inserted at the front (`prepend`) for ops whose inputs are known only at the end
 * (splitting the packed state), so the node list stays topologically ordered.
 */
export class GraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly head: INodeProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly used = new Map<string, number>();
  private readonly scalarCache = new Map<string, string>();

  constructor(readonly name: string) {}

  /** A fresh value name starting with `hint`. */
  fresh(hint: string): string {
    const clean = hint.replace(/[^A-Za-z0-9_.]/g, '_') || 'v';
    const n = this.used.get(clean) ?? 0;
    this.used.set(clean, n + 1);
    return n === 0 ? clean : `${clean}_${n}`;
  }

  input(spec: ValueSpec): string {
    this.used.set(spec.name, 1);
    this.inputs.push(valueInfo(spec));
    return spec.name;
  }

  /** Declare a graph output; `value` is renamed through an Identity when names differ. */
  output(spec: ValueSpec, value: string): void {
    if (value !== spec.name) this.nodes.push({ opType: 'Identity', input: [value], output: [spec.name], name: spec.name });
    this.outputs.push(valueInfo(spec));
  }

  /** A float32 initializer (copied). */
  f32(hint: string, data: Float32Array, dims: readonly number[]): string {
    const name = this.fresh(hint);
    const raw = new Uint8Array(data.byteLength);
    raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.initializers.push({ name, dataType: DT.FLOAT, dims: [...dims], rawData: raw });
    return name;
  }

  /** An int64 initializer (shapes, split sizes, axes). */
  i64(hint: string, values: readonly number[]): string {
    const name = this.fresh(hint);
    const raw = new Uint8Array(values.length * 8);
    const dv = new DataView(raw.buffer);
    values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name, dataType: DT.INT64, dims: [values.length], rawData: raw });
    return name;
  }

  /** A float32 scalar constant (shared between uses). */
  scalar(value: number): string {
    const key = `f32:${Object.is(value, -0) ? '-0' : value}`;
    let name = this.scalarCache.get(key);
    if (!name) {
      name = this.fresh(`c_${String(value).replace(/[^0-9a-z]/gi, '_')}`);
      this.initializers.push({ name, dataType: DT.FLOAT, dims: [], rawData: new Uint8Array(new Float32Array([value]).buffer) });
      this.scalarCache.set(key, name);
    }
    return name;
  }

  /** A float64 scalar constant. */
  scalar64(value: number): string {
    const key = `f64:${value}`;
    let name = this.scalarCache.get(key);
    if (!name) {
      name = this.fresh(`d_${String(value).replace(/[^0-9a-z]/gi, '_')}`);
      this.initializers.push({ name, dataType: DT.DOUBLE, dims: [], rawData: new Uint8Array(new Float64Array([value]).buffer) });
      this.scalarCache.set(key, name);
    }
    return name;
  }

  /** Add a node with one output; returns the output's name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, hint = opType.toLowerCase()): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0]!;
  }

  /** Add a node with `outputs` outputs (or explicit output names). */
  opN(opType: string, inputs: readonly string[], outputs: number | readonly string[], attrs: Record<string, AttrValue> = {}, hint = opType.toLowerCase()): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(hint)) : [...outputs];
    this.nodes.push(node(opType, inputs, outs, attrs));
    return outs;
  }

  /** Add a node that must run before every node added so far (its inputs must be graph inputs or initializers). */
  prepend(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}): void {
    this.head.push(node(opType, inputs, outputs, attrs));
  }

  /** Serialise as an ONNX model with `metadata` in `metadata_props`. */
  encode(metadata: Record<string, string>, docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'edgestream',
      docString,
      graph: {
        name: this.name,
        node: [...this.head, ...this.nodes],
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(spec: ValueSpec): IValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: spec.elemType,
        shape: { dim: spec.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue>): INodeProto {
  return {
    opType,
    input: [...inputs],
    output: [...outputs],
    name: outputs[0],
    attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
  };
}

const AT = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: AttrValue): IAttributeProto {
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  if (typeof v === 'object') return { name, type: AT.FLOAT, f: v.f };
  return Number.isInteger(v) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
}
