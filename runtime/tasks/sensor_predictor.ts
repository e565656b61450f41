import { EdgestreamError } from '../errors.js';
import { loadModel, type LoadModelOptions } from '../model/load_model.js';
import type { Model } from '../model/model.js';
import { resolveModelPath } from '../model/shipped_models.js';
import type { Session } from '../stream/session.js';

/**
 * Predictions on one sensor stream: one sample (a frame of channel values) in, the model's outputs
 * that became ready out — e.g. a TTT/LaCT forecaster whose fast weights keep learning while the
 * stream runs. Its state can be snapshotted and restored (another process, after a restart).
 *
 *   const p = await createSensorPredictor('drift.safetensors');
 *   for (const sample of samples) for (const forecast of p.push(sample)) publish(forecast);
 *   save(p.snapshot());
 *   p.close();
 */
export class SensorPredictor {
  private readonly session: Session;

  constructor(readonly model: Model) {
    this.session = model.createSession();
  }

  /** Values the model expects per sample. */
  get inputDim(): number { return this.model.inputDim; }

  /**
   * Push one sample (`inputDim` finite numbers); returns the outputs that became ready (0 or 1 for
   * most models; a model with a look-ahead of d frames answers sample t when sample t + d arrives).
   * A sample of the wrong size or with NaN/Inf is refused (`E_INPUT_SHAPE`, `E_NONFINITE_INPUT`)
   * and the stream's state is unchanged.
   */
  push(sample: ArrayLike<number>): Float32Array[] {
    return this.session.push(sample);
  }

  /** End of the stream: the outputs held back by the model's look-ahead. */
  flush(): Float32Array[] {
    return this.session.flush();
  }

  /** Everything needed to continue this stream bit for bit (versioned, checksummed). */
  snapshot(): Uint8Array {
    return this.session.snapshot();
  }

  /** Continue from a snapshot of a stream of the same model. */
  restore(snapshot: Uint8Array): void {
    this.session.restore(snapshot);
  }

  /** Start a new stream. */
  reset(): void {
    this.session.reset();
  }

  /** Release the stream's state. */
  close(): void {
    this.session.close();
  }
}

/** A sensor predictor for a model file, its bytes, a loaded `Model`, or a shipped model's name. */
export async function createSensorPredictor(model: string | Uint8Array | Model, options: LoadModelOptions = {}): Promise<SensorPredictor> {
  const m = typeof model === 'string' || model instanceof Uint8Array
    ? await loadModel(typeof model === 'string' ? resolveModelPath(model) : model, options)
    : model;
  if (m.frontend) {
    throw new EdgestreamError('E_CONFIG', `model ${m.name} takes audio (it has a front end); use createKeywordSpotter`);
  }
  return new SensorPredictor(m);
}
