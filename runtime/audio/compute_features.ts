import type { FrontendSettings } from '../model/frontend_settings.js';
import type { AudioStreamInfo } from './audio_decoder.js';
import { createAudioFrontend, type AudioInput, type AudioFrontendOptions } from './audio_frontend.js';
import type { AudioTruncation } from './wav_stream_decoder.js';

/** Features of a whole recording, `[frames, featureSize]` row-major. */
export interface FeatureMatrix {
  frames: number;
  featureSize: number;
  data: Float32Array;
  normalized: boolean;
  /** Rate of the decoded audio (before resampling). */
  inputRate: number | null;
  /** WAV header or raw format details when bytes were decoded. */
  audioInfo: AudioStreamInfo | null;
  /** Set when a WAV's data chunk was shorter than declared (what was there was used). */
  truncation: AudioTruncation | null;
}

/**
 * Run a whole recording (WAV/raw bytes or samples) through the streaming front end in one
 * push and collect every frame: the same numbers a stream of the same audio produces.
 */
export function computeFeatures(audio: AudioInput, settings: FrontendSettings, options: AudioFrontendOptions = {}): FeatureMatrix {
  const fe = createAudioFrontend(settings, options);
  const chunks: Float32Array[] = [];
  let frames = 0;
  const collect = (f: Float32Array): void => {
    chunks.push(f.slice());
    frames++;
  };
  fe.process(audio, collect);
  for (const f of fe.flush()) {
    chunks.push(f);
    frames++;
  }
  const data = new Float32Array(frames * fe.featureSize);
  chunks.forEach((f, i) => data.set(f, i * fe.featureSize));
  return { frames, featureSize: fe.featureSize, data, normalized: fe.normalized, inputRate: fe.inputRate, audioInfo: fe.audioInfo, truncation: fe.truncation };
}
