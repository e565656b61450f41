import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT, SHIPPED_MODELS_DIR } from '../../runtime/model/shipped_models.js';

export { PACKAGE_ROOT };

/** The shipped keyword model `npm start` and `serve` use by default. */
export const DEMO_MODEL = join(SHIPPED_MODELS_DIR, 'kws12.safetensors');
/** The bundled sample the demo streams: real people saying the ten commands and two other words (sample.json). */
export const DEMO_SAMPLE = join(SHIPPED_MODELS_DIR, 'sample.wav');

/** The package version (package.json). */
export const PACKAGE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
