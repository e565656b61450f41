import { createRequire } from 'node:module';

/** The npm package the onnx backend runs on (an optional peer dependency of edgestream). */
export const ONNXRUNTIME_PACKAGE = 'onnxruntime-node';

/** The installed onnxruntime-node version, or null when it is not installed (reads its package.json; loads no native code). */
export function onnxruntimeVersion(): string | null {
  try {
    return (createRequire(import.meta.url)(`${ONNXRUNTIME_PACKAGE}/package.json`) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}
