import { createHash } from 'node:crypto';
import { EdgestreamError } from '../errors.js';
import type { SkippedTier } from '../kernels/registry.js';
import type { Kernels } from '../kernels/types.js';
import type { StreamProgram } from '../stream/program.js';
import { Session } from '../stream/session.js';
import type { ModelDescription, PreparedModel, ProgramOptions } from './family.js';
import type { FrontendSettings } from './frontend_settings.js';
import type { Arch, DecisionDefaults, ModelMetadata } from './model_file.js';

/** A model file's arch, or `onnx-step` for a user's ONNX step model of unknown family. */
export type ModelArch = Arch | 'onnx-step';

export interface SessionOptions {
  /** Average the head over the last this-many frames (0 = the official cumulative mean). */
  headWindow?: number;
}

/**
 * The most recurrent state one stream of a model may hold: 64 MiB plus four times the model
 * file. State grows with the weights (fast weights, LMU memory) and with sizes in the config that
 * no tensor pins (an attention window, chunk buffers); a few bytes of config must not make every
 * stream cost gigabytes.
 */
export function maxStateBytes(fileBytes: number): number {
  return 64 * 2 ** 20 + 4 * fileBytes;
}

/** Where a model's arithmetic runs: a kernel tier, or onnxruntime-node. */
export type BackendName = 'js' | 'wasm' | 'wasm-relaxed' | 'onnx';

/**
 * A loaded model: immutable weights, config, labels and front-end settings, shared by every
 * stream. Sessions made by `createSession` share its default program (batch 1); engines ask for
 * their own batched program with `createProgram`.
 */
export class Model {
  readonly arch: ModelArch;
  readonly variant: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly labels: readonly string[];
  readonly frontend: FrontendSettings | null;
  readonly name: string;
  readonly modelVersion: string;
  /** Keyword decision defaults stored with the model (thresholds it was calibrated for), if any. */
  readonly decision: Readonly<DecisionDefaults>;
  /** Hex SHA-256 of the model file bytes. */
  readonly fingerprint: string;
  private readonly fingerprintBytes: Uint8Array;
  private readonly program: StreamProgram;
  /** Session programs with a windowed head, by window length. */
  private readonly windowed = new Map<number, StreamProgram>();

  constructor(
    metadata: Omit<ModelMetadata, 'arch'> & { arch: ModelArch },
    fileBytes: Uint8Array,
    private readonly prepared: PreparedModel,
    readonly backend: BackendName,
    private readonly makeProgram: (options: ProgramOptions) => StreamProgram,
    /** The kernel tier in use (null for the ONNX backend). */
    readonly kernels: Kernels | null,
    /** Frees what the backend holds for this model (kernel memory, an onnxruntime session). */
    private readonly release: () => void = () => kernels?.dispose?.(),
    /**
     * Loaded with `backend: 'auto'`: the faster kernel tiers passed over, and why (e.g. relaxed
     * SIMD missing on Node 20, or a WASM tier that failed to start). Empty otherwise.
     */
    readonly skippedTiers: readonly SkippedTier[] = [],
  ) {
    this.arch = metadata.arch;
    this.variant = metadata.variant;
    this.config = Object.freeze({ ...metadata.config });
    this.labels = Object.freeze([...metadata.labels]);
    this.frontend = metadata.frontend;
    this.name = metadata.name ?? `${metadata.arch}-${metadata.variant}`;
    this.modelVersion = metadata.modelVersion ?? '0';
    this.decision = Object.freeze({ ...metadata.decision });
    this.fingerprintBytes = createHash('sha256').update(fileBytes).digest();
    this.fingerprint = Buffer.from(this.fingerprintBytes).toString('hex');
    this.program = makeProgram({ maxBatch: 1 });
    const what = `model ${this.name}`;
    if (this.stateBytes > maxStateBytes(fileBytes.length)) {
      const mib = (n: number): string => `${Math.round(n / 2 ** 20)} MiB`;
      throw new EdgestreamError('E_MODEL_FORMAT', `${what}: each stream would hold ${mib(this.stateBytes)} of state (sizes in its config); a model file of ${mib(fileBytes.length)} may use at most ${mib(maxStateBytes(fileBytes.length))} per stream (64 MiB + 4 × the file; check window and chunk sizes in the config)`, { stateBytes: this.stateBytes });
    }
    if (this.frontend) {
      const perFrame = this.frontend.melBins + (this.frontend.useEnergy ? 1 : 0);
      if (perFrame !== prepared.inputDim) {
        throw new EdgestreamError('E_MODEL_FORMAT', `${what}: the front end makes ${perFrame} values per frame (frontend.melBins${this.frontend.useEnergy ? ' + energy' : ''}) but the model takes ${prepared.inputDim}`);
      }
    }
  }

  private disposed = false;

  /** True after `dispose()`. */
  get isDisposed(): boolean { return this.disposed; }

  /**
   * Free the model's weights in kernel memory and its onnxruntime session now, rather than when
   * it is garbage collected. Close its sessions first: after this, neither the model nor its
   * sessions can be used. Disposing twice is harmless.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.windowed.clear();
    this.release();
  }

  private check(): void {
    if (this.disposed) throw new EdgestreamError('E_SESSION_STATE', `model ${this.name} was disposed; load it again`);
  }

  /** Values per input frame (mel bins for LMUFormer). */
  get inputDim(): number { return this.prepared.inputDim; }
  /** Values per output (classes for LMUFormer). */
  get outputDim(): number { return this.prepared.outputDim; }
  /** Frames between an input frame and its output (LMUFormer: 5). */
  get delay(): number { return this.prepared.delay; }
  /** Bytes of recurrent state one stream holds. */
  get stateBytes(): number { return this.program.stateSizes.f32 * 4 + this.program.stateSizes.f64 * 8; }

  /**
   * A new stream. `headWindow` > 0 averages the classifier head over the last that-many frames
   * only (continuous detection; see `ProgramOptions.headWindow`); such sessions share one program.
   */
  createSession(options: SessionOptions = {}): Session {
    this.check();
    const w = options.headWindow ?? 0;
    if (w === 0) return new Session(this.program, this.fingerprintBytes);
    let program = this.windowed.get(w);
    if (!program) {
      program = this.makeProgram({ maxBatch: 1, headWindow: w });
      this.windowed.set(w, program);
    }
    return new Session(program, this.fingerprintBytes);
  }

  /** A new session continuing from a snapshot (of a session of this same model, same options). */
  restoreSession(snapshot: Uint8Array, options: SessionOptions = {}): Session {
    const s = this.createSession(options);
    s.restore(snapshot);
    return s;
  }

  /** A separate program instance (own workspace), e.g. batched for an engine. */
  createProgram(options: ProgramOptions = {}): StreamProgram {
    this.check();
    return this.makeProgram(options);
  }

  describe(): ModelDescription & { stateBytesPerStream: number; delay: number } {
    return { ...this.prepared.describe(), stateBytesPerStream: this.stateBytes, delay: this.delay };
  }
}
