import { EdgestreamError } from '../errors.js';
import type { StreamProgram } from '../stream/program.js';
import type { StreamState } from '../stream/state.js';
import { OrtSession, type Tensor } from './ort.js';
import { STEP_INPUTS, STEP_OUTPUTS, type StepModelInfo } from './step_convention.js';

interface Run {
  feeds: Record<string, Tensor>;
  fetches: Record<string, Tensor>;
}

/**
 * A step model (ONNX step convention) as a `StreamProgram`: a stream's state is the packed state
 * row (`stateSizes.f32` = S), gathered into `[rows, S]` before the run and scattered back after.
 * Buffers and tensors are made once per batch size, so a step allocates nothing.
 */
export class OnnxStepProgram implements StreamProgram {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly delay: number;
  readonly stateSizes: { f32: number; f64: number };
  readonly maxBatch: number;
  /** Rows per onnxruntime run (1 when the model's batch dimension is fixed). */
  private readonly runRows: number;

  private readonly frame: Float32Array;
  private readonly state: Float32Array;
  private readonly end: Float32Array;
  private readonly out: Float32Array;
  private readonly ready: Float32Array;
  private readonly stateOut: Float32Array;
  private readonly runs = new Map<string, Run>();

  constructor(private readonly session: OrtSession, info: StepModelInfo, maxBatch = 1) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new EdgestreamError('E_CONFIG', `maxBatch must be a positive integer, got ${maxBatch}`);
    this.inputDim = info.inputDim;
    this.outputDim = info.outputDim;
    this.delay = info.delay;
    this.stateSizes = { f32: info.stateSize, f64: 0 };
    this.maxBatch = maxBatch;
    this.runRows = Math.min(maxBatch, info.batchLimit);
    const n = this.runRows;
    this.frame = new Float32Array(n * info.inputDim);
    this.state = new Float32Array(n * info.stateSize);
    this.end = new Float32Array(n);
    this.out = new Float32Array(n * info.outputDim);
    this.ready = new Float32Array(n);
    this.stateOut = new Float32Array(n * info.stateSize);
  }

  step(states: readonly StreamState[], rows: number, input: Float32Array, out: Float32Array, ready: Uint8Array): void {
    if (rows > this.maxBatch) throw new EdgestreamError('E_INPUT_SHAPE', `batch of ${rows} exceeds this program's maxBatch ${this.maxBatch}`);
    const F = this.inputDim;
    for (let r0 = 0; r0 < rows; r0 += this.runRows) {
      const n = Math.min(this.runRows, rows - r0);
      this.frame.set(input.subarray(r0 * F, (r0 + n) * F));
      this.end.fill(0, 0, n);
      this.runOn(states, r0, n, out, ready);
    }
  }

  flush(state: StreamState): Float32Array[] {
    const results: Float32Array[] = [];
    const out = new Float32Array(this.outputDim);
    const ready = new Uint8Array(1);
    for (let k = 0; k < this.delay; k++) {
      this.frame.fill(0, 0, this.inputDim);
      this.end[0] = 1;
      this.runOn([state], 0, 1, out, ready);
      if (ready[0]) results.push(Float32Array.from(out));
    }
    return results;
  }

  /** Run rows `r0 … r0+n−1` of `states` with `frame` and `end` already filled. */
  private runOn(states: readonly StreamState[], r0: number, n: number, out: Float32Array, ready: Uint8Array): void {
    const S = this.stateSizes.f32;
    const K = this.outputDim;
    for (let j = 0; j < n; j++) this.state.set(states[r0 + j]!.f32, j * S);
    const run = this.runFor(n);
    try {
      this.session.run(run.feeds, run.fetches);
    } catch (e) {
      throw new EdgestreamError('E_BACKEND', `onnxruntime failed on a step of ${n} row(s) (frame [${n}, ${this.inputDim}], state [${n}, ${S}]): ${(e as Error).message}`, undefined, { cause: e });
    }
    for (let j = 0; j < n; j++) {
      const r = r0 + j;
      states[r]!.f32.set(this.stateOut.subarray(j * S, (j + 1) * S));
      const isReady = this.ready[j]! > 0.5;
      ready[r] = isReady ? 1 : 0;
      if (isReady) out.set(this.out.subarray(j * K, (j + 1) * K), r * K);
    }
  }

  private runFor(n: number): Run {
    const key = String(n);
    let run = this.runs.get(key);
    if (!run) {
      const S = this.stateSizes.f32;
      const t = (data: Float32Array, cols: number): Tensor => OrtSession.tensor({ data: data.subarray(0, n * cols), dims: [n, cols] });
      run = {
        feeds: { [STEP_INPUTS.frame]: t(this.frame, this.inputDim), [STEP_INPUTS.state]: t(this.state, S), [STEP_INPUTS.end]: t(this.end, 1) },
        fetches: { [STEP_OUTPUTS.output]: t(this.out, this.outputDim), [STEP_OUTPUTS.ready]: t(this.ready, 1), [STEP_OUTPUTS.state]: t(this.stateOut, S) },
      };
      this.runs.set(key, run);
    }
    return run;
  }
}
