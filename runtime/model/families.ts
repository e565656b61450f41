import { lmuformerFamily } from '../../models/lmuformer/family.js';
import { tttFamily } from '../../models/ttt/family.js';
import type { ModelFamily } from './family.js';
import type { Arch } from './model_file.js';

/** Every model family the runtime can load, by the `arch` of the model file. */
export const FAMILIES: Partial<Record<Arch, ModelFamily>> = {
  lmuformer: lmuformerFamily,
  ttt: tttFamily,
};
