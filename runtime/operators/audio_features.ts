import { Observable, type OperatorFunction } from 'rxjs';
import { KaldiFbank } from '../audio/kaldi_fbank.js';
import { EdgestreamError } from '../errors.js';
import type { FrontendSettings } from '../model/frontend_settings.js';
import type { FeatureFrame, SampleChunk } from './types.js';

/**
 * Mono samples at the front end's rate → feature frames (Kaldi log-mel fbank, normalised as the
 * model expects when the settings say so), each frame emitted as soon as its last sample arrived.
 * Frame `index` counts from the first sample of the subscription; `originMs` is the stream time of
 * that sample (the first chunk's timestamp, else 0). The fbank lives in the subscription.
 *
 * @param settings the model's front end (`model.frontend`).
 * @returns one `FeatureFrame` per completed frame (own copies).
 */
export function audioFeatures(settings: FrontendSettings): OperatorFunction<SampleChunk, FeatureFrame> {
  return (source) =>
    new Observable<FeatureFrame>((subscriber) => {
      const fbank = new KaldiFbank(settings, { normalize: settings.normalize !== null });
      let originMs: number | undefined;
      let index = 0;
      return source.subscribe({
        next: (chunk) => {
          if (chunk.rate !== settings.sampleRate) {
            subscriber.error(new EdgestreamError('E_AUDIO_FORMAT', `audio at ${chunk.rate} Hz reached a ${settings.sampleRate} Hz front end; put resampleAudio(${settings.sampleRate}) before audioFeatures`));
            return;
          }
          originMs ??= chunk.timestampMs ?? 0;
          const origin = originMs;
          fbank.process(chunk.samples, (f) => {
            const frame: FeatureFrame = { device: chunk.device, index: index++, values: f.slice(), originMs: origin };
            if (chunk.seq !== undefined) frame.seq = chunk.seq;
            if (chunk.receivedAt !== undefined) frame.receivedAt = chunk.receivedAt;
            subscriber.next(frame);
          });
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
