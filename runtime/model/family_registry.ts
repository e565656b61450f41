import { EdgestreamError } from '../errors.js';
import type { ModelFamily } from './family.js';
import type { Arch } from './model_file.js';

/**
 * The model families this process can load, by `arch`. The runtime names no family itself:
 * families register here (models/register.ts does it for the shipped ones, and the package root
 * and the command line import it), the way backends register with `registerBackendLoader`.
 */
const families = new Map<Arch, ModelFamily>();
const registrars = new Set<string>();

/**
 * Register a family. `registrar` is the URL of the module whose import registers it (pass
 * `import.meta.url` from that module's top level): engine worker threads import every registrar
 * before they load a model, so a thread knows the same families as the process that started it.
 */
export function registerModelFamily(family: ModelFamily, registrar: string): void {
  if (!URL.canParse(registrar)) throw new EdgestreamError('E_CONFIG', `registerModelFamily(${family.arch}): the registrar must be a module URL (import.meta.url), got "${registrar}"`);
  families.set(family.arch, family);
  registrars.add(registrar);
}

/** The family for a model file's `arch`; an `E_MODEL_FORMAT` error names the fix when none is registered. */
export function modelFamily(arch: Arch, what: string): ModelFamily {
  const family = families.get(arch);
  if (family) return family;
  const known = [...families.keys()];
  const hint = known.length === 0
    ? `no model family is registered in this process: import 'edgestream' (or models/register.js from the sources) before loading models`
    : `the registered families are ${known.join(', ')}`;
  throw new EdgestreamError('E_MODEL_FORMAT', `${what}: no model family for arch "${arch}" (${hint})`, { arch });
}

/** Is a family registered for `arch`? */
export function hasModelFamily(arch: string): boolean {
  return families.has(arch);
}

/** Every registered family, in registration order. */
export function registeredFamilies(): ModelFamily[] {
  return [...families.values()];
}

/** The modules that registered families (engine workers import them; see `registerModelFamily`). */
export function familyRegistrars(): string[] {
  return [...registrars];
}
