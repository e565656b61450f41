/**
 * Every error edgestream raises on purpose is an `EdgestreamError` with a stable `code`.
 * Codes are part of the public contract (CLI exit messages, MQTT error counters, tests):
 * add new ones, never rename old ones.
 */
export const ERROR_CODES = {
  /** A model file (.safetensors) is malformed, truncated, hostile or not an edgestream model. */
  E_MODEL_FORMAT: 'model file is not a valid edgestream model',
  /** A PyTorch checkpoint (.pth) cannot be read: not a zip, truncated, unsupported pickle. */
  E_CHECKPOINT: 'checkpoint cannot be read',
  /** A checkpoint or parameter set does not fit the requested architecture (missing key, wrong shape). */
  E_ARCH_MISMATCH: 'parameters do not fit the architecture',
  /** An unknown architecture / variant name. */
  E_UNKNOWN_ARCH: 'unknown architecture',
  /** A .npy file is malformed or has an unsupported dtype. */
  E_NPY_FORMAT: 'npy file is not valid',
  /** An input tensor has the wrong shape or dtype for the model. */
  E_INPUT_SHAPE: 'input has the wrong shape',
  /** An input frame holds NaN or ±Infinity. */
  E_NONFINITE_INPUT: 'input holds NaN or Infinity',
  /** A model produced NaN or ±Infinity from finite input (its weights overflow float32): no result is given. */
  E_NONFINITE_OUTPUT: 'model output holds NaN or Infinity',
  /** A snapshot blob is malformed, from another model, or fails its checksum. */
  E_SNAPSHOT: 'snapshot cannot be restored',
  /** A session was used after `dispose()`, or flushed twice, or similar misuse. */
  E_SESSION_STATE: 'session is not in a usable state',
  /** Audio input cannot be decoded (unsupported WAV encoding, truncated file, bad PCM format). */
  E_AUDIO_FORMAT: 'audio cannot be decoded',
  /** A golden conformance file is malformed. */
  E_GOLDEN_FORMAT: 'golden file is not valid',
  /** A stream evaluation's truth file (what was said when) is malformed. */
  E_TRUTH_FORMAT: 'truth file is not valid',
  /** A configuration file or option failed validation. */
  E_CONFIG: 'configuration is not valid',
  /** A backend (wasm, onnx) is unavailable or failed to initialise. */
  E_BACKEND: 'backend is unavailable',
  /** An ONNX model cannot be used (corrupt, or does not follow the state convention). */
  E_ONNX_MODEL: 'ONNX model cannot be used',
  /** A file could not be read or written. */
  E_IO: 'file cannot be read or written',
  /** A transport-level input (MQTT payload, WebRTC message) was rejected. */
  E_TRANSPORT_INPUT: 'transport input rejected',
  /** The MQTT broker cannot be reached, refused the connection or the credentials. */
  E_MQTT: 'MQTT connection failed',
  /** Command line usage error. */
  E_USAGE: 'invalid command line usage',
  /** The NATS cluster cannot be reached, or JetStream refused a request the cluster layer needs. */
  E_CLUSTER: 'cluster (NATS JetStream) request failed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class EdgestreamError extends Error {
  readonly code: ErrorCode;
  /** Optional structured detail (key names, shapes, offsets) for logs and tests. */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgestreamError';
    this.code = code;
    this.detail = detail;
  }
}

export function isEdgestreamError(e: unknown, code?: ErrorCode): e is EdgestreamError {
  return e instanceof EdgestreamError && (code === undefined || e.code === code);
}

/** Describe any thrown value in one line, keeping the code of our own errors. */
export function describeError(e: unknown): string {
  if (e instanceof EdgestreamError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
