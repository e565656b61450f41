import { createRequire } from 'node:module';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type ortBindingModule from 'onnxruntime-node/dist/binding.js';
import { EdgestreamError } from '../errors.js';
import { ONNXRUNTIME_PACKAGE } from './version.js';

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

type OrtBinding = typeof ortBindingModule;
type NativeSession = InstanceType<OrtBinding['binding']['InferenceSession']>;
interface Onnxruntime {
  Tensor: typeof Tensor;
  binding: OrtBinding;
}

const require = createRequire(import.meta.url);
let loaded: Onnxruntime | null = null;

/**
 * onnxruntime-node, loaded on first use of the onnx backend. It is an optional peer dependency:
 * installing edgestream does not install it (its install script fetches CUDA libraries on
 * Linux x64; docs/installing.md), so its absence is an `E_BACKEND` error that says how to add it.
 */
export function loadOnnxruntime(specifier = ONNXRUNTIME_PACKAGE): Onnxruntime {
  if (loaded && specifier === ONNXRUNTIME_PACKAGE) return loaded;
  let mod: Onnxruntime;
  try {
    mod = { Tensor: (require(specifier) as { Tensor: typeof Tensor }).Tensor, binding: require(`${specifier}/dist/binding.js`) as OrtBinding };
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes(`'${specifier}`);
    throw new EdgestreamError(
      'E_BACKEND',
      missing
        ? `the onnx backend needs the npm package ${specifier}, which is not installed (edgestream leaves it optional). ` +
          `Install it beside edgestream: \`npm install ${specifier} --onnxruntime-node-install=skip\` (the flag skips its CUDA download); ` +
          'or use a kernel backend (auto, wasm, js)'
        : `${specifier} is installed but cannot load here: ${(e as Error).message.split('\n')[0]}`,
      { package: specifier },
      { cause: e },
    );
  }
  if (specifier === ONNXRUNTIME_PACKAGE) loaded = mod;
  return mod;
}

export class OrtSession {
  private constructor(private readonly native: NativeSession, readonly threads: number) {}

  /** Create a session from ONNX bytes; `what` names the model in errors. */
  static load(bytes: Uint8Array, what: string, options: OrtOptions = {}): OrtSession {
    const threads = options.intraOpNumThreads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new EdgestreamError('E_CONFIG', `intraOpNumThreads must be an integer from 1 to 256, got ${threads}`);
    }
    const ort = loadOnnxruntime();
    let native: NativeSession;
    try {
      ort.binding.initOrt();
      native = new ort.binding.binding.InferenceSession();
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
    return new (loadOnnxruntime().Tensor)('float32', value.data, value.dims);
  }

  dispose(): void {
    this.native.dispose();
  }
}

export type { Tensor };
