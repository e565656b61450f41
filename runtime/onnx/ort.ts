import { Tensor, type InferenceSession } from 'onnxruntime-node';
import ortBinding from 'onnxruntime-node/dist/binding.js';
import { EdgestreamError } from '../errors.js';

/**
 * The one place edgestream touches onnxruntime-node. A `StreamProgram` steps synchronously, so
 * this wraps the package's native session object, which runs synchronously (the public
 * `InferenceSession.run` is the same call deferred with setImmediate). Threads are always set
 * explicitly: one intra-op thread unless asked otherwise, the edge-device default.
 */
export interface OrtOptions {
  /** Threads onnxruntime may use inside one operator (default 1). */
  intraOpNumThreads?: number;
}

/** A float32 tensor to feed or fetch: data length must equal the product of dims. */
export interface F32Value {
  data: Float32Array;
  dims: readonly number[];
}

type NativeSession = InstanceType<typeof ortBinding.binding.InferenceSession>;

export class OrtSession {
  private constructor(private readonly native: NativeSession, readonly threads: number) {}

  /** Create a session from ONNX bytes; `what` names the model in errors. */
  static load(bytes: Uint8Array, what: string, options: OrtOptions = {}): OrtSession {
    const threads = options.intraOpNumThreads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new EdgestreamError('E_CONFIG', `intraOpNumThreads must be an integer from 1 to 256, got ${threads}`);
    }
    let native: NativeSession;
    try {
      ortBinding.initOrt();
      native = new ortBinding.binding.InferenceSession();
    } catch (e) {
      throw new EdgestreamError('E_BACKEND', `onnxruntime-node cannot start here: ${(e as Error).message}`, undefined, { cause: e });
    }
    try {
      const sessionOptions: InferenceSession.SessionOptions = {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        executionProviders: [{ name: 'cpu' }],
      };
      native.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, sessionOptions);
    } catch (e) {
      throw new EdgestreamError('E_ONNX_MODEL', `${what}: onnxruntime cannot load it: ${(e as Error).message}`, undefined, { cause: e });
    }
    return new OrtSession(native, threads);
  }

  /** Run once; every fetch is preallocated and written in place. */
  run(feeds: Record<string, Tensor>, fetches: Record<string, Tensor>): void {
    this.native.run(feeds, fetches, {});
  }

  /** A tensor over `value.data` (no copy) for `run`. */
  static tensor(value: F32Value): Tensor {
    return new Tensor('float32', value.data, value.dims);
  }

  dispose(): void {
    this.native.dispose();
  }
}

export type { Tensor };
