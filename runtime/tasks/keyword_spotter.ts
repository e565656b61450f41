import { createAudioFrontend, type AudioFrontend, type AudioFrontendOptions, type AudioInput } from '../audio/audio_frontend.js';
import { EdgestreamError } from '../errors.js';
import { loadModel, type LoadModelOptions } from '../model/load_model.js';
import type { Model } from '../model/model.js';
import { resolveModelPath } from '../model/shipped_models.js';
import type { KeywordEvent } from '../decisions/keyword_detector.js';
import { KeywordStream } from '../decisions/keyword_stream.js';
import type { DecisionOptions, ResolvedDecisionOptions } from '../decisions/options.js';

/**
 * Options of a keyword spotter: the decision settings (`threshold`, `smoothFrames`, … as in
 * `DecisionOptions`), the start-of-stream warm-up, and how the audio you push is read.
 */
export type KeywordSpotterOptions = DecisionOptions & {
  /** No events in the first `warmupMs` of the stream (and after `reset`). Default 1000; 0 keeps everything. */
  warmupMs?: number;
  /** Sample rate of the audio you push (default: a WAV header's, else the model's 16 kHz). */
  inputRate?: AudioFrontendOptions['inputRate'];
  /** How pushed bytes are read: 'auto' (WAV), 'wav', or a raw PCM format such as 's16le'. */
  format?: AudioFrontendOptions['format'];
  /** Interleaved channels of raw PCM bytes (the first is used). */
  channels?: number;
};

/**
 * Keyword spotting on one audio stream: audio in (samples or bytes, any chunking), keyword events
 * out. The same composition `listen` and the MQTT service run per device (`KeywordStream`: the
 * front end, one session whose head averages the last 1.28 s, the event detector, the warm-up).
 *
 *   const spotter = await createKeywordSpotter('kws12', { inputRate: 48000 });
 *   for await (const pcm of microphone) for (const e of spotter.push(pcm)) console.log(e.label, e.start_ms);
 *   spotter.close();
 */
export class KeywordSpotter {
  readonly options: ResolvedDecisionOptions;
  /** The latest scored frame (for live displays). */
  lastScores: Float32Array | null = null;
  private readonly frontend: AudioFrontend | null;
  private stream: KeywordStream<null>;
  private readonly pending: KeywordEvent[] = [];
  private readonly decision: DecisionOptions;
  private readonly warmupMs: number | undefined;
  private closed = false;

  constructor(readonly model: Model, options: KeywordSpotterOptions = {}) {
    const { warmupMs, inputRate, format, channels, ...decision } = options;
    this.decision = decision;
    this.warmupMs = warmupMs;
    this.stream = this.openStream();
    this.options = this.stream.decision;
    this.frontend = model.frontend
      ? createAudioFrontend(model.frontend, {
        normalize: true,
        ...(inputRate !== undefined && { inputRate }),
        ...(format !== undefined && { format }),
        ...(channels !== undefined && { channels }),
      })
      : null;
  }

  private openStream(): KeywordStream<null> {
    return new KeywordStream<null>(this.model, { decision: this.decision, ...(this.warmupMs !== undefined && { warmupMs: this.warmupMs }) }, {
      event: (e) => this.pending.push(e),
      scores: (r) => { this.lastScores = r.scores; },
    });
  }

  /** Push audio (Float32Array/Int16Array samples or bytes); returns the events it completed. */
  push(audio: AudioInput): KeywordEvent[] {
    this.check();
    if (!this.frontend) throw new EdgestreamError('E_CONFIG', `model ${this.model.name} has no audio front end; push feature frames with pushFrame`);
    this.frontend.process(audio, (frame) => this.stream.push(frame, null));
    return this.take();
  }

  /** Push one normalised feature frame (when you compute features yourself); returns the event it triggered, if any. */
  pushFrame(frame: Float32Array): KeywordEvent | null {
    this.check();
    this.stream.push(frame, null);
    const events = this.take();
    return events[0] ?? null;
  }

  /** End of the stream: the audio still in the front end and the frames held back by the model's look-ahead. */
  flush(): KeywordEvent[] {
    this.check();
    if (this.frontend) for (const frame of this.frontend.flush()) this.stream.push(frame, null);
    void this.stream.end();
    return this.take();
  }

  /** Thresholds while running: a number for every label, `null` back to the configured ones. */
  setThreshold(threshold: number | null): void {
    this.stream.setThreshold(threshold);
  }

  /** Start a new stream (fresh state, stream time from 0, a new warm-up). */
  reset(): void {
    this.check();
    this.stream.close();
    this.stream = this.openStream();
    this.frontend?.reset();
    this.pending.length = 0;
    this.lastScores = null;
  }

  /** Release the stream's state. The spotter cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.close();
  }

  private take(): KeywordEvent[] {
    if (this.pending.length === 0) return [];
    return this.pending.splice(0);
  }

  private check(): void {
    if (this.closed) throw new EdgestreamError('E_SESSION_STATE', 'this keyword spotter was closed');
  }
}

/**
 * A keyword spotter for a model file, its bytes, a loaded `Model`, or the name of a shipped model
 * (`kws12`, `kws12-spiking`, …; `listShippedModels()`).
 */
export async function createKeywordSpotter(model: string | Uint8Array | Model, options: KeywordSpotterOptions & LoadModelOptions = {}): Promise<KeywordSpotter> {
  const { backend, int8, intraOpNumThreads, ...rest } = options;
  const m = typeof model === 'string' || model instanceof Uint8Array
    ? await loadModel(typeof model === 'string' ? resolveModelPath(model) : model, {
      ...(backend !== undefined && { backend }), ...(int8 !== undefined && { int8 }), ...(intraOpNumThreads !== undefined && { intraOpNumThreads }),
    })
    : model;
  if (!m.frontend) throw new EdgestreamError('E_CONFIG', `model ${m.name} has no audio front end settings; keyword spotting needs a model trained on audio features`);
  return new KeywordSpotter(m, rest);
}
