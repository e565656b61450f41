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
}

/** A keyword event attributed to a device, as published on `<base>/<device>/keyword`. */
export interface DeviceKeywordEvent extends KeywordEvent {
  device: string;
  /** Stable per detection (`<device>-<start_ms>`): consumers drop QoS 1 duplicates by it. */
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
}

/** A model output for a sensor frame, as published on `<base>/<device>/prediction`. */
export interface SensorPrediction {
  device: string;
  values: number[];
  seq?: number;
  timestampMs?: number;
  model: string;
}
