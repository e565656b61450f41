import { EdgestreamError } from '../runtime/errors.js';
import type { BackendName } from '../runtime/model/model.js';

const BACKENDS = ['auto', 'js', 'wasm', 'wasm-relaxed', 'onnx'] as const;

/** Help texts shared by the commands that load a model: --backend (what parseBackend accepts), --threshold, --int8. */
export const BACKEND_HELP = BACKENDS.join(' | ');
export const THRESHOLD_HELP = 'score a keyword must reach (default: the threshold stored in the model, else 0.5)';
export const INT8_HELP = 'int8 weights (per-row scales; README "Kernels")';

export function parseBackend(value: string): BackendName | 'auto' {
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new EdgestreamError('E_USAGE', `unknown backend "${value}". Expected one of: ${BACKENDS.join(', ')}`);
  }
  return value as BackendName | 'auto';
}

export function parseNumber(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new EdgestreamError('E_USAGE', `${name} must be a number, got "${value}"`);
  return n;
}

export function parseProbability(value: string, name: string): number {
  const n = parseNumber(value, name);
  if (n < 0 || n > 1) throw new EdgestreamError('E_USAGE', `${name} must be between 0 and 1, got ${value}`);
  return n;
}
