import { from, lastValueFrom, toArray } from 'rxjs';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import { keywordClip, padded, type Clip } from './keyword_audio.js';

export interface SpokenKeyword {
  label: string;
  /** The clip with the requested silence around it, at 16 kHz. */
  clip: Clip;
  /** What the service's own pipeline detects in it offline (no transport). */
  offline: DeviceKeywordEvent[];
  /** Peak score of the keyword minus the highest peak of any other keyword label. */
  margin: number;
}

/**
 * A spoken keyword that the model detects, offline and as its first event, through the service's
 * own pipeline with the service's default decisions: the transport tests then check that the same
 * keyword comes out the far side of WebRTC, whatever the model's accuracy on other words. Every
 * keyword label of the model is tried (the shipped fixture, else espeak-ng); of those that work,
 * the one whose peak score stands furthest above every other label's (most margin for the codec).
 */
export async function detectableKeyword(model: Model, dir: string, leadMs: number, tailMs: number): Promise<SpokenKeyword | null> {
  const decision = parseServiceConfig({}).decision;
  const keywords = model.labels.filter((l) => !l.startsWith('_'));
  let best: SpokenKeyword | null = null;
  for (const label of keywords) {
    const raw = keywordClip(label, dir);
    if (!raw) continue;
    const clip = padded(raw, leadMs, tailMs);
    const { events, peaks } = await offline(model, clip, decision);
    if (events[0]?.label !== label) continue;
    const rival = Math.max(...keywords.filter((l) => l !== label).map((l) => peaks[model.labels.indexOf(l)]!));
    const margin = peaks[model.labels.indexOf(label)]! - rival;
    if (!best || margin > best.margin) best = { label, clip, offline: events, margin };
  }
  return best;
}

async function offline(model: Model, clip: Clip, decision: ReturnType<typeof parseServiceConfig>['decision']): Promise<{ events: DeviceKeywordEvent[]; peaks: Float32Array }> {
  const format = { encoding: 'f32le' as const, rate: clip.rate, channels: 1 };
  const chunks: AudioChunk[] = [{ device: 'offline', kind: 'start', data: new Float32Array(0), format }];
  const step = clip.rate / 100;
  for (let i = 0, seq = 0; i < clip.samples.length; i += step, seq++) {
    chunks.push({ device: 'offline', kind: 'chunk', data: clip.samples.subarray(i, i + step), format, seq, timestampMs: (i / clip.rate) * 1000 });
  }
  chunks.push({ device: 'offline', kind: 'stop', data: new Float32Array(0), format });
  const out = await lastValueFrom(from(chunks).pipe(keywordSpotting(model, { decision, emitScores: true }), toArray()));
  const peaks = new Float32Array(model.labels.length);
  const events: DeviceKeywordEvent[] = [];
  for (const o of out) {
    if (o.type === 'keyword') events.push(o.event);
    else o.scores.scores.forEach((v, i) => (peaks[i] = Math.max(peaks[i]!, v)));
  }
  return { events, peaks };
}
