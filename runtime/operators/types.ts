import type { KeywordEvent } from '../decisions/keyword_detector.js';

/**
 * The values that flow through edgestream's RxJS pipelines, shared by every source (MQTT, WebRTC,
 * stdin, files) and sink (MQTT, data channels, logs).
 */

/** How raw PCM bytes are laid out. `audio/L16` is big-endian: we never use it for s16le. */
export interface PcmFormat {
  encoding: 's16le' | 'f32le';
  /** Samples per second. */
  rate: number;
  /** Interleaved channels (the first is used). */
  channels: number;
}

/** A piece of one device's audio stream. */
export interface AudioChunk {
  /** Device id, `[A-Za-z0-9_-]+`. */
  device: string;
  /** `chunk` carries PCM; `start`/`stop` mark stream boundaries (payload may be empty). */
  kind: 'chunk' | 'start' | 'stop';
  /** Raw PCM bytes (`format`), or already-decoded float samples in [-1, 1] at `format.rate`. */
  data: Uint8Array | Float32Array;
  format: PcmFormat;
  /** Sender's sequence number, if known (gaps reset the stream state). */
  seq?: number;
  /** Stream time of the chunk's first sample in ms, if known. */
  timestampMs?: number;
  /** When the chunk arrived (Date.now()), for latency figures. */
  receivedAt?: number;
  /**
   * When the transport first recorded the chunk (ms since the epoch), if that differs from its
   * arrival here and stays the same when the chunk is delivered again (a replay from a JetStream
   * stream): the stream origin of event ids is taken from it instead of `receivedAt`.
   */
  originAt?: number;
  /**
   * Set when audio before this chunk was lost (a `seq` gap, a timestamp jump, a dropped chunk):
   * the stream state restarts here and detections are suppressed for the warm-up window.
   */
  gap?: boolean;
}

/** Decoded mono samples of one device's stream (after `decodePcm`, maybe `resampleAudio`). */
export interface SampleChunk {
  device: string;
  /** Mono float samples in [-1, 1] at `rate`. */
  samples: Float32Array;
  rate: number;
  /** Stream time of the first sample in ms, if known. */
  timestampMs?: number;
  seq?: number;
  receivedAt?: number;
}

/** One model input frame (e.g. 128 normalised log-mel values) of one device's stream. */
export interface FeatureFrame {
  device: string;
  /** Frame index since the stream (segment) began. */
  index: number;
  values: Float32Array;
  /** Stream time in ms at which this segment's frame 0 starts. */
  originMs: number;
  /** `seq` and arrival time of the chunk that completed this frame. */
  seq?: number;
  receivedAt?: number;
}

/** The label scores of one scored frame, for live displays and the `scores` topic. */
export interface KeywordScores {
  device: string;
  /** Stream time (ms) of the end of the audio the scores cover. */
  end_ms: number;
  /** Sigmoid score per label, in the model's label order. */
  scores: Float32Array;
  labels: readonly string[];
  receivedAt?: number;
}

/** What keyword spotting emits: detections and (opt-in) scores. */
export type KeywordOutput =
  | { type: 'keyword'; event: DeviceKeywordEvent; receivedAt?: number }
  | { type: 'scores'; scores: KeywordScores };

/** A keyword event attributed to a device, as published on `<base>/<device>/keyword`. */
export interface DeviceKeywordEvent extends KeywordEvent {
  device: string;
  /**
   * Stable per detection: consumers drop QoS 1 duplicates by it. `<device>-<start_ms>` from the
   * operators; the service makes it `<device>-<stream origin>-<offset>` (unique across restarts and
   * workers, stable on replay: `transports/service/stream_origin.ts`).
   */
  id: string;
  /** ISO time of the detection. */
  ts: string;
  seq?: number;
  model: string;
  model_version: string;
}

/** A sensor sample for stream models (TTT forecasters). */
export interface SensorFrame {
  device: string;
  values: Float32Array;
  seq?: number;
  timestampMs?: number;
  receivedAt?: number;
}

/** A model output for a sensor frame, as published on `<base>/<device>/prediction`. */
export interface SensorPrediction {
  device: string;
  values: number[];
  seq?: number;
  timestampMs?: number;
  model: string;
  receivedAt?: number;
}

/** A message as a transport received it, before parsing (sensor payloads, commands). */
export interface RawMessage {
  device: string;
  payload: Uint8Array;
  /** MQTT 5 content type, if the sender set one. */
  contentType?: string;
  /** MQTT 5 user properties, if any. */
  userProperties?: Readonly<Record<string, string | string[]>>;
  receivedAt?: number;
}
