import { InvalidArgumentError, Option } from 'commander';
import { EdgestreamError } from '../runtime/errors.js';
import type { BackendName } from '../runtime/model/model.js';

const BACKENDS = ['auto', 'js', 'wasm', 'wasm-relaxed', 'onnx'] as const;

/** Help texts shared by the commands that load a model: --backend (what parseBackend accepts), --threshold, --int8. */
export const BACKEND_HELP = BACKENDS.join(' | ');
export const THRESHOLD_HELP = 'score a keyword must reach (default: the threshold stored in the model, else 0.5)';
export const INT8_HELP = 'int8 weights (per-row scales; docs/kernels.md)';

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

export function parseInteger(value: string, name: string, min: number, max: number): number {
  const n = parseNumber(value, name);
  if (!Number.isInteger(n) || n < min || n > max) throw new EdgestreamError('E_USAGE', `${name} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

export function parseProbability(value: string, name: string): number {
  const n = parseNumber(value, name);
  if (n < 0 || n > 1) throw new EdgestreamError('E_USAGE', `${name} must be between 0 and 1, got ${value}`);
  return n;
}

/**
 * The options several commands share, declared once: commander checks them while parsing (an
 * unknown backend or a threshold outside 0–1 is `E_USAGE` naming what is allowed) and hands the
 * action parsed values.
 */
export function backendOption(defaultValue: BackendName | 'auto' | null = 'auto'): Option {
  const o = new Option('--backend <backend>', 'where the arithmetic runs').choices(BACKENDS);
  return defaultValue === null ? o : o.default(defaultValue);
}

export function thresholdOption(): Option {
  return new Option('--threshold <p>', THRESHOLD_HELP).argParser((v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1.');
    return n;
  });
}

export function int8Option(): Option {
  return new Option('--int8', INT8_HELP);
}

/** Audio per message of the load benchmarks' simulated devices (bench-mqtt, bench-cluster). */
export function chunkMsOption(): Option {
  return new Option('--chunk-ms <ms>', 'audio per published chunk, 10–1000 ms (much of a device\'s cost in the service is per message)')
    .default(20)
    .argParser((v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 10 || n > 1000) throw new InvalidArgumentError('must be an integer from 10 to 1000 (the service\'s audio.maxChunkMs).');
      return n;
    });
}
