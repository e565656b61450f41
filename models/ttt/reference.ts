import { createHash } from 'node:crypto';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { decodeModelFile } from '../../runtime/model/model_file.js';
import { decodeSnapshot, encodeSnapshot } from '../../runtime/stream/snapshot.js';
import { createState, type StreamState } from '../../runtime/stream/state.js';
import { prepareTtt } from './family.js';
import type { TttModelSpec } from './model_spec.js';
import type { ParamSource } from './numeric.js';
import { TttProgram, type TttProgramOptions } from './program.js';

/**
 * The float64 reference path of the TTT models: the same layers on Float64Array / JS numbers,
 * frames in and outputs out at full precision (the float32 `Session` would round both). Sessions
 * have the same push / flush / reset / snapshot / restore contract as `Session`.
 *
 *   const ref = loadReferenceModel('model.safetensors');
 *   const s = ref.createSession();
 *   const y = s.push(frame);           // Float64Array
 */
export class ReferenceModel {
  readonly program: TttProgram;
  readonly inputDim: number;
  readonly outputDim: number;

  constructor(readonly spec: TttModelSpec, param: ParamSource, private readonly fingerprint: Uint8Array, options: Omit<TttProgramOptions, 'precision'> = {}) {
    this.program = new TttProgram(spec, param, null, { ...options, precision: 'float64' });
    this.inputDim = this.program.inputDim;
    this.outputDim = this.program.outputDim;
  }

  createSession(): ReferenceSession {
    return new ReferenceSession(this.program, this.fingerprint);
  }
}

export function loadReferenceModel(pathOrBytes: string | Uint8Array, options: Omit<TttProgramOptions, 'precision'> = {}): ReferenceModel {
  const bytes = typeof pathOrBytes === 'string' ? readFileBytes(pathOrBytes) : pathOrBytes;
  const what = typeof pathOrBytes === 'string' ? pathOrBytes : 'model file';
  const file = decodeModelFile(bytes, what);
  if (file.metadata.arch !== 'ttt') throw new EdgestreamError('E_ARCH_MISMATCH', `${what}: arch "${file.metadata.arch}" has no float64 reference path (only ttt models do)`);
  const { spec, param } = prepareTtt(file, what);
  return new ReferenceModel(spec, param, createHash('sha256').update(bytes).digest(), options);
}

export class ReferenceSession {
  private state: StreamState;
  private readonly out: Float64Array;
  private ended = false;
  framesIn = 0;
  framesOut = 0;

  constructor(private readonly program: TttProgram, private readonly fingerprint: Uint8Array) {
    this.state = createState(program.stateSizes);
    this.out = new Float64Array(program.outputDim);
  }

  get streamState(): StreamState { return this.state; }

  /** One frame in, its output out (delay 0). Rejects wrong lengths and NaN/Infinity untouched. */
  push(frame: ArrayLike<number>): Float64Array {
    if (this.ended) throw new EdgestreamError('E_SESSION_STATE', 'this stream was flushed; call reset() to start a new one');
    const dim = this.program.inputDim;
    if (frame === null || typeof frame !== 'object' || frame.length !== dim) {
      throw new EdgestreamError('E_INPUT_SHAPE', `frame ${this.framesIn} has ${frame?.length} values, the model expects ${dim}`);
    }
    for (let i = 0; i < dim; i++) {
      if (!Number.isFinite(frame[i])) {
        throw new EdgestreamError('E_NONFINITE_INPUT', `frame ${this.framesIn} holds ${frame[i]} at position ${i}; inputs must be finite (the stream state is unchanged)`, { index: this.framesIn, position: i });
      }
    }
    this.program.stepVec([this.state], 1, frame, this.out);
    this.framesIn++;
    this.framesOut++;
    return Float64Array.from(this.out);
  }

  flush(): Float64Array[] {
    if (this.ended) throw new EdgestreamError('E_SESSION_STATE', 'this stream was already flushed; call reset() to start a new one');
    this.ended = true;
    return [];
  }

  reset(): void {
    this.state.f32.fill(0);
    this.state.f64.fill(0);
    this.ended = false;
    this.framesIn = 0;
    this.framesOut = 0;
  }

  snapshot(): Uint8Array {
    return encodeSnapshot({ fingerprint: this.fingerprint, state: this.state, ended: this.ended, framesIn: this.framesIn, framesOut: this.framesOut });
  }

  restore(bytes: Uint8Array): void {
    const s = decodeSnapshot(bytes, this.fingerprint, this.program.stateSizes);
    this.state = s.state;
    this.ended = s.ended;
    this.framesIn = s.framesIn;
    this.framesOut = s.framesOut;
  }
}
