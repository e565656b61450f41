import type { ConformanceRunner } from '../conformance.js';
import type { Kernels } from '../kernels/types.js';
import type { StreamProgram } from '../stream/program.js';
import type { Arch, ModelFile } from './model_file.js';

/**
 * A model family (LMUFormer, TTT): everything the runtime needs to know about one `arch` of the
 * model file. The families that ship are listed once, in models/families.ts, and registered with
 * the runtime (family_registry.ts) by models/register.ts, which the package root imports.
 */
export interface ModelFamily {
  readonly arch: Arch;
  /**
   * Check variant, config and every tensor (name, shape, dtype) and return a prepared model.
   * Throws `E_ARCH_MISMATCH` / `E_MODEL_FORMAT` naming the offending key.
   */
  prepare(file: ModelFile): PreparedModel;
  /** The model as an ONNX step graph (runtime/onnx/step_convention.ts), where the family has one. */
  exportStepGraph?(file: ModelFile): Uint8Array;
  /** Runs this family's golden vectors (`edgestream conformance`), where it has any. */
  readonly goldenRunner?: ConformanceRunner;
}

export interface ProgramOptions {
  /** Largest batch one `step` takes (engines); default 1. */
  maxBatch?: number;
  /** int8 weights with per-row scales where the family supports it. */
  int8?: boolean;
  /**
   * Classifier families: average the head over the last this-many frames instead of everything
   * since the stream began (continuous detection on unbounded streams). 0 / absent = official.
   */
  headWindow?: number;
}

export interface PreparedModel {
  readonly variant: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly inputDim: number;
  readonly outputDim: number;
  readonly delay: number;
  createProgram(kernels: Kernels, options?: ProgramOptions): StreamProgram;
  /** Static figures for `edgestream inspect`. */
  describe(): ModelDescription;
}

export interface ModelDescription {
  /** Trainable parameters (as PyTorch counts them). */
  parameters: number;
  /** Multiply-adds per input frame in steady state. */
  macsPerFrame: number;
  /** Family-specific lines for `inspect` (dims, depth, memory size...). */
  details: Record<string, string | number | boolean>;
}
