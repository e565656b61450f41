import { from, lastValueFrom, toArray } from 'rxjs';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import { keywordClip, padded, type Clip } from './keyword_audio.js';

/** Keywords tried, in this order of preference (short command words). */
const CANDIDATES = ['yes', 'no', 'stop', 'go', 'up', 'down', 'left', 'right', 'on', 'off'];

export interface SpokenKeyword {
  label: string;
  /** The clip with the requested silence around it, at 16 kHz. */
  clip: Clip;
  /** What the service's own pipeline detects in it offline (no transport). */
  offline: DeviceKeywordEvent[];
}

/**
 * A spoken keyword that the model detects, offline and as its first event, through the service's
 * own pipeline with the service's default decisions: the transport tests then check that the same
 * keyword comes out the far side of WebRTC, whatever the model's accuracy on other words. Among
 * the candidates that work, the one detected with the highest score (most margin for the codec).
 */
export async function detectableKeyword(model: Model, dir: string, leadMs: number, tailMs: number): Promise<SpokenKeyword | null> {
  const decision = parseServiceConfig({}).decision;
  let best: SpokenKeyword | null = null;
  for (const label of CANDIDATES.filter((l) => model.labels.includes(l))) {
    const raw = keywordClip(label, dir);
    if (!raw) continue;
    const clip = padded(raw, leadMs, tailMs);
    const offline = await offlineEvents(model, clip, decision);
    if (offline[0]?.label !== label) continue;
    if (!best || offline[0].score > best.offline[0]!.score) best = { label, clip, offline };
  }
  return best;
}

async function offlineEvents(model: Model, clip: Clip, decision: ReturnType<typeof parseServiceConfig>['decision']): Promise<DeviceKeywordEvent[]> {
  const format = { encoding: 'f32le' as const, rate: clip.rate, channels: 1 };
  const chunks: AudioChunk[] = [{ device: 'offline', kind: 'start', data: new Float32Array(0), format }];
  const step = clip.rate / 100;
  for (let i = 0, seq = 0; i < clip.samples.length; i += step, seq++) {
    chunks.push({ device: 'offline', kind: 'chunk', data: clip.samples.subarray(i, i + step), format, seq, timestampMs: (i / clip.rate) * 1000 });
  }
  chunks.push({ device: 'offline', kind: 'stop', data: new Float32Array(0), format });
  const out = await lastValueFrom(from(chunks).pipe(keywordSpotting(model, { decision }), toArray()));
  return out.flatMap((o) => (o.type === 'keyword' ? [o.event] : []));
}
