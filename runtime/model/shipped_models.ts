import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgestreamError } from '../errors.js';

/** The package root (where package.json names `edgestream`), from the sources or from dist/. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'edgestream') return dir;
      } catch { /* keep looking */ }
    }
    dir = dirname(dir);
  }
  return process.cwd();
}

export const PACKAGE_ROOT = findPackageRoot();

/** Where the models that ship with the package live. */
export const SHIPPED_MODELS_DIR = join(PACKAGE_ROOT, 'models/lmuformer/demo');

/** Names of the shipped models (`kws12`, `kws12-spiking`, …). */
export function listShippedModels(): string[] {
  try {
    return readdirSync(SHIPPED_MODELS_DIR).filter((f) => f.endsWith('.safetensors')).map((f) => basename(f, '.safetensors')).sort();
  } catch {
    return [];
  }
}

/**
 * A model argument as a path: the name of a shipped model (`kws12`) becomes its file in the
 * package; anything else (a path) is returned as it is.
 */
export function resolveModelPath(nameOrPath: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(nameOrPath) && !existsSync(nameOrPath)) {
    const shipped = join(SHIPPED_MODELS_DIR, `${nameOrPath}.safetensors`);
    if (existsSync(shipped)) return shipped;
    throw new EdgestreamError('E_IO', `no model file or shipped model named "${nameOrPath}" (shipped models: ${listShippedModels().join(', ') || 'none'})`);
  }
  return nameOrPath;
}
