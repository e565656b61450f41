/**
 * Conformance against golden vectors produced by the official implementations
 * (../shared/golden). Each model family contributes a runner for its golden format; the
 * `edgestream conformance` command and the conformance tests both go through these.
 */
export interface ConformanceOptions {
  /** Override the runner's default tolerance. */
  tol?: number;
  /** Kernel tier or backend to run on (default auto). */
  backend?: 'auto' | 'js' | 'wasm' | 'wasm-relaxed' | 'onnx';
}

export interface ConformanceResult {
  /** The golden file or directory. */
  path: string;
  /** What kind of golden it was (e.g. `lmuformer:slmu_rnn_ms_conv1d`). */
  kind: string;
  /** Largest absolute error over every compared value. */
  maxAbsError: number;
  /** The tolerance applied. */
  tol: number;
  pass: boolean;
  /** One line of further figures (frames within tolerance, argmax agreement...). */
  note: string;
  /** Machine-readable extra figures (e.g. the float64 path's error), for `--json`. */
  details?: Record<string, number | string | boolean>;
}

export interface ConformanceRunner {
  readonly name: string;
  /** True if this runner understands the path (a golden dir, a .json file...). */
  matches(path: string): boolean;
  run(path: string, options: ConformanceOptions): Promise<ConformanceResult>;
}
