import { createRequire } from 'node:module';

/** The installed onnxruntime-node version (read from its package.json; loads no native code). */
export function onnxruntimeVersion(): string | null {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}
