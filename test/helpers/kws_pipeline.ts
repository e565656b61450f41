import { createAudioFrontend, type AudioFrontend } from '../../runtime/audio/audio_frontend.js';
import { KeywordSpotter } from '../../runtime/decisions/keyword_spotter.js';
import type { DecisionOptions } from '../../runtime/decisions/options.js';
import type { Model } from '../../runtime/model/model.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';

/**
 * Keyword spotting on decoded audio chunks, one stream per device, built from the runtime's own
 * parts (streaming front end + KeywordSpotter): what the service does per device, without MQTT.
 */
export class KeywordPipeline {
  private readonly streams = new Map<string, { frontend: AudioFrontend; spotter: KeywordSpotter }>();

  constructor(
    private readonly model: Model,
    private readonly decisions: DecisionOptions = {},
  ) {}

  push(chunk: AudioChunk): DeviceKeywordEvent[] {
    const events: DeviceKeywordEvent[] = [];
    if (chunk.kind === 'start') this.streams.delete(chunk.device);
    if (chunk.kind !== 'chunk') return events;
    if (!(chunk.data instanceof Float32Array)) throw new Error('KeywordPipeline takes decoded Float32 chunks');
    let s = this.streams.get(chunk.device);
    if (!s) {
      s = { frontend: createAudioFrontend(this.model.frontend!, { inputRate: chunk.format.rate }), spotter: new KeywordSpotter(this.model, this.decisions) };
      this.streams.set(chunk.device, s);
    }
    const { spotter } = s;
    s.frontend.process(chunk.data, (frame) => {
      const e = spotter.pushFrame(frame);
      if (e) {
        events.push({
          ...e,
          device: chunk.device,
          id: `${chunk.device}-${e.start_ms}`,
          ts: new Date().toISOString(),
          ...(chunk.seq !== undefined && { seq: chunk.seq }),
          model: this.model.name,
          model_version: '1',
        });
      }
    });
    return events;
  }
}
