import { registerModelFamily } from '../runtime/model/family_registry.js';
import { MODEL_FAMILIES } from './families.js';

/**
 * Importing this module registers the shipped model families with the runtime. The package root
 * (index.ts) and the command line import it; engine worker threads import it again through the
 * URL recorded here (runtime/engine/shard_worker.ts).
 */
for (const family of MODEL_FAMILIES) registerModelFamily(family, import.meta.url);
