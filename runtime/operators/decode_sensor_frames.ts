import { Observable, type OperatorFunction } from 'rxjs';
import { isEdgestreamError, type EdgestreamError } from '../errors.js';
import { parseSensorPayload, type SensorEncoding } from './sensor_payload.js';
import type { RawMessage, SensorFrame } from './types.js';

export interface DecodeSensorFramesOptions {
  /** Payload encoding when the message has no content type. Default 'auto' (JSON if it looks like a JSON object). */
  encoding?: SensorEncoding;
  /** Values per frame the model expects (others are rejected). */
  expectedValues?: number;
  /** Largest accepted frame in values. Default 4096. */
  maxValues?: number;
  /**
   * Called for a payload that cannot be used (malformed JSON, wrong size, NaN…, code
   * `E_TRANSPORT_INPUT`); the message is skipped. Without it the error goes to the subscriber.
   */
  onInvalid?: (error: EdgestreamError, message: RawMessage) => void;
}

/**
 * Raw sensor messages → `SensorFrame`s: JSON `{seq, timestamp, values}` or little-endian float32
 * (metadata in MQTT 5 user properties), see `parseSensorPayload`.
 * @returns one frame per valid message.
 */
export function decodeSensorFrames(options: DecodeSensorFramesOptions = {}): OperatorFunction<RawMessage, SensorFrame> {
  return (source) =>
    new Observable<SensorFrame>((subscriber) =>
      source.subscribe({
        next: (m) => {
          let parsed;
          try {
            parsed = parseSensorPayload(m.payload, {
              ...(options.encoding !== undefined && { encoding: options.encoding }),
              ...(m.contentType !== undefined && { contentType: m.contentType }),
              ...(m.userProperties !== undefined && { userProperties: m.userProperties }),
              ...(options.expectedValues !== undefined && { expectedValues: options.expectedValues }),
              ...(options.maxValues !== undefined && { maxValues: options.maxValues }),
            });
          } catch (e) {
            if (options.onInvalid && isEdgestreamError(e)) return options.onInvalid(e, m);
            return subscriber.error(e);
          }
          subscriber.next({ device: m.device, ...parsed, ...(m.receivedAt !== undefined && { receivedAt: m.receivedAt }) });
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      }),
    );
}
