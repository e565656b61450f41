import { EdgestreamError } from '../errors.js';
import type { StreamProgram } from './program.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { createState, type StreamState } from './state.js';

/**
 * One stream: its recurrent state and the program that advances it.
 *
 *   const s = model.createSession();
 *   for (const frame of frames) for (const out of s.push(frame)) use(out);
 *   for (const out of s.flush()) use(out);
 *
 * `push` returns the outputs that became ready (for LMUFormer 0 or 1 per frame: output t is ready
 * once frame t+5 is in), `flush` returns the rest and ends the stream; `reset` starts a new one.
 * `snapshot()` captures everything needed to continue bit-identically, elsewhere or later.
 */
export class Session {
  private state: StreamState;
  private readonly out: Float32Array;
  private readonly ready = new Uint8Array(1);
  private ended = false;
  private closed = false;
  /** Frames pushed since the last reset. */
  framesIn = 0;
  /** Outputs returned since the last reset. */
  framesOut = 0;

  constructor(
    private readonly program: StreamProgram,
    /** Identifies the model a snapshot belongs to. */
    private readonly fingerprint: Uint8Array,
  ) {
    this.state = program.createState?.() ?? createState(program.stateSizes);
    this.out = new Float32Array(program.outputDim);
  }

  /** Values expected per frame. */
  get inputDim(): number { return this.program.inputDim; }
  /** Values per output. */
  get outputDim(): number { return this.program.outputDim; }
  /** Frames between an input and its output. */
  get delay(): number { return this.program.delay; }
  /** True after `flush()` until `reset()`. */
  get isEnded(): boolean { return this.ended; }
  /** The raw per-stream state (read-only use: engines and tests). */
  get streamState(): StreamState { return this.state; }

  /** Push one frame; returns the outputs that became ready (copies owned by the caller). */
  push(frame: ArrayLike<number>): Float32Array[] {
    if (this.closed) throw closedError();
    if (this.ended) throw new EdgestreamError('E_SESSION_STATE', 'this stream was flushed; call reset() to start a new one');
    const x = checkFrame(frame, this.program.inputDim, this.framesIn);
    this.program.step([this.state], 1, x, this.out, this.ready);
    this.framesIn++;
    if (!this.ready[0]) return [];
    checkOutput(this.out, this.framesOut);
    this.framesOut++;
    return [Float32Array.from(this.out)];
  }

  /** End the stream: the outputs still held back by the model's look-ahead. */
  flush(): Float32Array[] {
    if (this.closed) throw closedError();
    if (this.ended) throw new EdgestreamError('E_SESSION_STATE', 'this stream was already flushed; call reset() to start a new one');
    const outs = this.program.flush(this.state);
    this.ended = true;
    outs.forEach((o, i) => checkOutput(o, this.framesOut + i));
    this.framesOut += outs.length;
    return outs;
  }

  /** Forget everything: the next push starts a new stream. */
  reset(): void {
    if (this.closed) throw closedError();
    this.state.f32.fill(0);
    this.state.f64.fill(0);
    this.ended = false;
    this.framesIn = 0;
    this.framesOut = 0;
  }

  /**
   * Release this stream's state (which may live in kernel memory) now rather than when it is
   * garbage collected. The session cannot be used afterwards; closing twice is harmless.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.program.releaseState?.(this.state);
  }

  /** True after `close()`. */
  get isClosed(): boolean { return this.closed; }

  /** Versioned, checksummed bytes that `restore` (here or in another process) continues from. */
  snapshot(): Uint8Array {
    if (this.closed) throw closedError();
    return encodeSnapshot({ fingerprint: this.fingerprint, state: this.state, ended: this.ended, framesIn: this.framesIn, framesOut: this.framesOut });
  }

  /** Replace this session's state with a snapshot of a session of the same model. */
  restore(bytes: Uint8Array): void {
    if (this.closed) throw closedError();
    const snap = decodeSnapshot(bytes, this.fingerprint, this.program.stateSizes);
    // Into this session's own state (which the program may keep in kernel memory).
    this.state.f32.set(snap.state.f32);
    this.state.f64.set(snap.state.f64);
    this.ended = snap.ended;
    this.framesIn = snap.framesIn;
    this.framesOut = snap.framesOut;
  }
}

function closedError(): EdgestreamError {
  return new EdgestreamError('E_SESSION_STATE', 'this session was closed; create a new one');
}

/**
 * A finite input can still overflow a model with huge (finite) weights; a NaN result must never
 * reach a caller as if it were a score.
 */
function checkOutput(out: Float32Array, index: number): void {
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    if (v - v !== 0) {
      throw new EdgestreamError('E_NONFINITE_OUTPUT', `output ${index} holds ${v} at position ${i}: the model overflows float32 on this input (check its weights)`, { index, position: i });
    }
  }
}

/** Validate one input frame: right length, finite values. Returns it as a Float32Array. */
export function checkFrame(frame: ArrayLike<number>, dim: number, index: number): Float32Array {
  if (frame === null || typeof frame !== 'object' || typeof frame.length !== 'number') {
    throw new EdgestreamError('E_INPUT_SHAPE', `frame ${index}: expected an array of ${dim} numbers`);
  }
  if (frame.length !== dim) {
    throw new EdgestreamError('E_INPUT_SHAPE', `frame ${index} has ${frame.length} values, the model expects ${dim}`, { index, got: frame.length, expected: dim });
  }
  const x = frame instanceof Float32Array ? frame : Float32Array.from(frame);
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(x[i])) {
      throw new EdgestreamError('E_NONFINITE_INPUT', `frame ${index} holds ${x[i]} at position ${i}; inputs must be finite (the stream state is unchanged)`, { index, position: i });
    }
  }
  return x;
}
