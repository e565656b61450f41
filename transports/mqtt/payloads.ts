import type { DeviceKeywordEvent, KeywordScores, SensorPrediction } from '../../runtime/operators/types.js';

/**
 * JSON bodies of what the service publishes (docs/service.md, "MQTT schema"). Field names follow the
 * conventions of Home Assistant (`event_type`), Wyoming (`start_ms`/`end_ms` stream times) and
 * Frigate (`id` for de-duplicating QoS 1 re-deliveries).
 */

/** `<base>/<device>/keyword`: the event as is (every key but `event_type` becomes an HA attribute). */
export function keywordPayload(event: DeviceKeywordEvent): string {
  return JSON.stringify(event);
}

/** Retained `<base>/<device>/state`. */
export interface DeviceStatePayload {
  listening: boolean;
  last_keyword: string | null;
  last_score: number | null;
  /** ISO time of the last detection. */
  last_ts: string | null;
  model: string;
  /** The default threshold in force: the last `threshold/set` value, else the configured one. */
  threshold: number;
}

export function statePayload(state: DeviceStatePayload): string {
  return JSON.stringify(state);
}

/** `<base>/<device>/scores`: the top `k` labels of the latest scored frame. */
export function scoresPayload(s: KeywordScores, k: number): string {
  const order = Array.from(s.scores.keys()).sort((a, b) => s.scores[b]! - s.scores[a]!);
  const top = order.slice(0, k).map((i) => ({ label: s.labels[i] ?? `class_${i}`, score: Math.round(s.scores[i]! * 1e4) / 1e4 }));
  return JSON.stringify({ device: s.device, end_ms: s.end_ms, top });
}

/** `<base>/<device>/prediction`: a stream model's output for a sensor frame. */
export function predictionPayload(p: SensorPrediction): string {
  return JSON.stringify({
    device: p.device,
    values: p.values.map((v) => Math.round(v * 1e6) / 1e6),
    ...(p.seq !== undefined && { seq: p.seq }),
    ...(p.timestampMs !== undefined && { timestamp: p.timestampMs }),
    model: p.model,
    ts: new Date().toISOString(),
  });
}

/** `hermes/hotword/<keyword>/detected` (Rhasspy/Snips Hermes), so existing Hermes flows react. */
export function hermesPayload(event: DeviceKeywordEvent): string {
  return JSON.stringify({
    modelId: event.model,
    modelVersion: event.model_version,
    modelType: 'universal',
    currentSensitivity: event.threshold,
    siteId: event.device,
    sessionId: null,
    detectSignalMs: event.end_ms,
  });
}
