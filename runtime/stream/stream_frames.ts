import { EdgestreamError } from '../errors.js';
import type { Model } from '../model/model.js';

/**
 * Stream a `[batch, frames, dim]` block through a model: each batch row is an independent stream,
 * pushed frame by frame and flushed. Returns `[frames, batch, outputDim]`, the layout of the
 * official `all_seq` output (output t belongs to input frame t).
 */
export function streamFrames(model: Model, input: Float32Array | Float64Array, batch: number, frames: number): Float32Array {
  const dim = model.inputDim;
  const K = model.outputDim;
  if (input.length !== batch * frames * dim) {
    throw new EdgestreamError('E_INPUT_SHAPE', `input holds ${input.length} values, expected ${batch}×${frames}×${dim}`);
  }
  const out = new Float32Array(frames * batch * K);
  for (let b = 0; b < batch; b++) {
    const session = model.createSession();
    let t = 0;
    const take = (outs: Float32Array[]): void => {
      for (const o of outs) {
        if (t >= frames) throw new EdgestreamError('E_SESSION_STATE', `stream ${b} produced more outputs than frames`);
        out.set(o, (t * batch + b) * K);
        t++;
      }
    };
    for (let f = 0; f < frames; f++) {
      const off = (b * frames + f) * dim;
      try {
        take(session.push(input.subarray(off, off + dim)));
      } catch (e) {
        if (e instanceof EdgestreamError && e.code === 'E_NONFINITE_INPUT') {
          throw new EdgestreamError('E_NONFINITE_INPUT', `batch row ${b}, frame ${f}: input holds NaN or Infinity`, { batch: b, frame: f }, { cause: e });
        }
        throw e;
      }
    }
    take(session.flush());
    if (t !== frames) throw new EdgestreamError('E_SESSION_STATE', `stream ${b} produced ${t} outputs for ${frames} frames`);
  }
  return out;
}
