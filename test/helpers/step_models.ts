import { GraphBuilder } from '../../runtime/onnx/graph_builder.js';
import { DT } from '../../runtime/onnx/proto.js';
import { META } from '../../runtime/onnx/step_convention.js';

/**
 * A hand-written ONNX step model following the step convention, as a user would bring one:
 * y[t] = x[t] + x[t+1] (x past the end = 0), so it has a one-frame look-ahead (delay 1).
 * State: [prev frame (dim), count (1)].
 */
export function lookaheadSumStepModel(dim: number, batch: number | 'N' = 'N', meta: Record<string, string> = { [META.delay]: '1' }): Uint8Array {
  const g = new GraphBuilder('lookahead_sum');
  const frame = g.input({ name: 'frame', elemType: DT.FLOAT, dims: [batch, dim] });
  const state = g.input({ name: 'state', elemType: DT.FLOAT, dims: [batch, dim + 1] });
  const end = g.input({ name: 'end', elemType: DT.FLOAT, dims: [batch, 1] });
  const [prev, count] = g.opN('Split', [state, g.i64('split', [dim, 1])], 2, { axis: 1 });
  const isEnd = g.op('Greater', [end, g.scalar(0.5)]);
  const has = g.op('Greater', [count!, g.scalar(0.5)]);
  const x = g.op('Where', [isEnd, g.scalar(0), frame]);
  const ready = g.op('Cast', [has], { to: DT.FLOAT });
  const out = g.op('Where', [has, g.op('Add', [prev!, x]), g.scalar(0)]);
  const nextPrev = g.op('Where', [isEnd, prev!, frame]);
  const nextCount = g.op('Where', [isEnd, g.scalar(0), g.op('Add', [g.op('Mul', [count!, g.scalar(0)]), g.scalar(1)])]);
  g.output({ name: 'output', elemType: DT.FLOAT, dims: [batch, dim] }, out);
  g.output({ name: 'ready', elemType: DT.FLOAT, dims: [batch, 1] }, ready);
  g.output({ name: 'state_out', elemType: DT.FLOAT, dims: [batch, dim + 1] }, g.op('Concat', [nextPrev, nextCount], { axis: 1 }));
  return g.encode(meta);
}

/** A valid ONNX model that is not a step model (input x, output y). */
export function plainOnnxModel(): Uint8Array {
  const g = new GraphBuilder('plain');
  const x = g.input({ name: 'x', elemType: DT.FLOAT, dims: ['N', 4] });
  g.output({ name: 'y', elemType: DT.FLOAT, dims: ['N', 4] }, g.op('Relu', [x]));
  return g.encode({});
}

/** The smallest step model: output = frame, ready = end, state_out = state; any declared sizes. */
export function identityStepModel(frameDim: number, stateDim: number): Uint8Array {
  const g = new GraphBuilder('identity');
  const frame = g.input({ name: 'frame', elemType: DT.FLOAT, dims: ['N', frameDim] });
  const state = g.input({ name: 'state', elemType: DT.FLOAT, dims: ['N', stateDim] });
  const end = g.input({ name: 'end', elemType: DT.FLOAT, dims: ['N', 1] });
  g.output({ name: 'output', elemType: DT.FLOAT, dims: ['N', frameDim] }, g.op('Identity', [frame]));
  g.output({ name: 'ready', elemType: DT.FLOAT, dims: ['N', 1] }, g.op('Identity', [end]));
  g.output({ name: 'state_out', elemType: DT.FLOAT, dims: ['N', stateDim] }, g.op('Identity', [state]));
  return g.encode({});
}
