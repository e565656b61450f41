import { computeFeatures } from '../runtime/audio/compute_features.js';
import { decodeFlac, isFlac } from '../runtime/audio/flac_file.js';
import { EdgestreamError } from '../runtime/errors.js';
import { readFileBytes } from '../runtime/io/files.js';
import { loadModel } from '../runtime/model/load_model.js';
import { resolveModelPath } from '../runtime/model/shipped_models.js';
import type { Model } from '../runtime/model/model.js';
import type { FrontendSettings } from '../runtime/model/frontend_settings.js';
import { parseBackend } from './options.js';

/** A model that takes audio: its front-end settings are in the model file. */
export async function loadAudioModel(path: string, backend: string, int8 = false): Promise<{ model: Model; frontend: FrontendSettings }> {
  const model = await loadModel(resolveModelPath(path), { backend: parseBackend(backend), int8 });
  if (!model.frontend) {
    throw new EdgestreamError('E_MODEL_FORMAT', `${path}: this model has no audio front end (it is a ${model.arch} ${model.variant} model); use predict with feature frames`);
  }
  return { model, frontend: model.frontend };
}

/** Normalised feature frames of an audio file (WAV or FLAC), as the model expects them. */
export async function audioFileFrames(path: string, frontend: FrontendSettings): Promise<{ frames: Float32Array[]; warning: string | null }> {
  const bytes = readFileBytes(path);
  let f;
  let flacWarning: string | null = null;
  if (isFlac(bytes)) {
    const audio = await decodeFlac(bytes, path);
    if (audio.declaredSamples > audio.samples.length) {
      flacWarning = `${path}: truncated FLAC: the header declares ${audio.declaredSamples} samples, ${audio.samples.length} could be decoded; used those`;
    }
    f = computeFeatures(audio.samples, frontend, { normalize: true, what: path, inputRate: audio.sampleRate });
  } else {
    f = computeFeatures(bytes, frontend, { normalize: true, what: path });
  }
  const frames: Float32Array[] = [];
  for (let t = 0; t < f.frames; t++) frames.push(f.data.subarray(t * f.featureSize, (t + 1) * f.featureSize));
  const t = f.truncation;
  const warning = flacWarning ?? (t ? `${path}: truncated WAV: the header declares ${t.declaredBytes} data bytes, ${t.presentBytes} are present; used the ${t.framesDecoded} whole sample frames` : null);
  return { frames, warning };
}
