import { Observable, type OperatorFunction } from 'rxjs';
import { isEdgestreamError, type EdgestreamError } from '../errors.js';
import type { Model } from '../model/model.js';
import type { Session } from '../stream/session.js';
import type { SensorFrame, SensorPrediction } from './types.js';

export interface PredictStreamOptions {
  /**
   * Called for a frame the model refuses (wrong size `E_INPUT_SHAPE`, NaN/Inf `E_NONFINITE_INPUT`);
   * the frame is skipped and the stream state is untouched. Without it such errors go to the subscriber.
   */
  onInputError?: (error: EdgestreamError, frame: SensorFrame) => void;
  /** Name that predictions carry. Default: the model's. */
  modelName?: string;
  /**
   * Run on this session instead of a new one (e.g. `model.restoreSession(snapshot)`: the stream
   * continues from a saved state). Only one subscription may use a given session.
   */
  session?: Session;
  /** Handed the subscription's session when it is made (to snapshot it, e.g. periodically and when the stream ends). */
  onSession?: (session: Session) => void;
}

/**
 * Sensor frames of one stream → model outputs, one session per subscription (e.g. a TTT forecaster
 * whose fast weights keep adapting while the stream runs). Each output is attributed to the frame
 * that made it ready (`seq`, `timestampMs`, `receivedAt`), so a model with a delay of d frames
 * reports its output for frame t when frame t + d arrives.
 *
 * @returns one `SensorPrediction` per output the model produces.
 */
export function predictStream(model: Model, options: PredictStreamOptions = {}): OperatorFunction<SensorFrame, SensorPrediction> {
  const modelName = options.modelName ?? model.name;
  return (source) =>
    new Observable<SensorPrediction>((subscriber) => {
      const session = options.session ?? model.createSession();
      options.onSession?.(session);
      const sub = source.subscribe({
        next: (frame) => {
          let outs: Float32Array[];
          try {
            outs = session.push(frame.values);
          } catch (e) {
            if (options.onInputError && (isEdgestreamError(e, 'E_INPUT_SHAPE') || isEdgestreamError(e, 'E_NONFINITE_INPUT'))) {
              options.onInputError(e, frame);
              return;
            }
            subscriber.error(e);
            return;
          }
          for (const out of outs) {
            subscriber.next({
              device: frame.device,
              values: Array.from(out),
              model: modelName,
              ...(frame.seq !== undefined && { seq: frame.seq }),
              ...(frame.timestampMs !== undefined && { timestampMs: frame.timestampMs }),
              ...(frame.receivedAt !== undefined && { receivedAt: frame.receivedAt }),
            });
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      return () => {
        sub.unsubscribe();
        session.close();
      };
    });
}
