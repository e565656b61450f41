import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** The shipped keyword model `npm start` and `serve` use by default. */
export const DEMO_MODEL = join(PACKAGE_ROOT, 'models/lmuformer/demo/kws35.safetensors');
/** The bundled spoken sample the demo streams (keywords inside phrases). */
export const DEMO_SAMPLE = join(PACKAGE_ROOT, 'models/lmuformer/demo/sample.wav');

/** The package version (package.json). */
export const PACKAGE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
