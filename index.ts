/**
 * edgestream: the package root. Everything here is public API; deeper modules are internal.
 *
 *   import { createKeywordSpotter, loadModel } from 'edgestream';
 *   const spotter = await createKeywordSpotter('kws12');          // audio in, keyword events out
 *   for (const e of spotter.push(pcm)) console.log(e.label, e.start_ms);
 *   const session = (await loadModel('model.safetensors')).createSession(); // frames in, outputs out
 */
// The shipped model families (LMUFormer, TTT) register with the runtime on import: every model
// loaded through this package, in this thread or an engine's worker threads, finds its family.
import './models/register.js';

export { EdgestreamError, ERROR_CODES, isEdgestreamError, type ErrorCode } from './runtime/errors.js';
export { loadModel, type LoadModelOptions } from './runtime/model/load_model.js';
export { Model, type BackendName } from './runtime/model/model.js';
export type { ModelDescription } from './runtime/model/family.js';
export { LMUFORMER_FRONTEND, type FrontendSettings } from './runtime/model/frontend_settings.js';
export { decodeModelFile, encodeModelFile, type ModelMetadata } from './runtime/model/model_file.js';
export { Session } from './runtime/stream/session.js';
export type { StreamProgram } from './runtime/stream/program.js';
export type { StreamState } from './runtime/stream/state.js';
export { streamFrames } from './runtime/stream/stream_frames.js';
export { availableTiers, createKernels } from './runtime/kernels/registry.js';
export type { Kernels, Tier } from './runtime/kernels/types.js';
export { readNpy, writeNpy, type NpyArray } from './runtime/io/npy.js';
export { lineChartSvg, type ChartSeries, type LineChartOptions } from './runtime/report/line_chart_svg.js';
export { importLmuformerCheckpoint, type ImportOptions, type ImportResult } from './models/lmuformer/import_checkpoint.js';
export { randomLmuformerModel, type RandomModelOptions } from './models/lmuformer/random_model.js';
export { SPEECH_COMMANDS_LABELS } from './models/lmuformer/labels.js';
export { VARIANTS as LMUFORMER_VARIANTS, type Variant as LmuformerVariant, type LmuformerConfig } from './models/lmuformer/variants.js';
// Task-level API: a stream of audio or sensor samples in, events or predictions out.
export { createKeywordSpotter, KeywordSpotter, type KeywordSpotterOptions } from './runtime/tasks/keyword_spotter.js';
export { createSensorPredictor, SensorPredictor } from './runtime/tasks/sensor_predictor.js';
export { listShippedModels, resolveModelPath } from './runtime/model/shipped_models.js';
export { KeywordStream, type KeywordStreamOptions, type KeywordStreamSink } from './runtime/decisions/keyword_stream.js';
export { evaluateStream, parseStreamTruth, type StreamEvaluationReport, type StreamTruth } from './runtime/decisions/stream_evaluation.js';
export { evaluateClips, type EvaluationReport, type LabelledClip } from './runtime/decisions/evaluate.js';
export { logitsToScores, type ScoreActivation } from './runtime/decisions/scores.js';
export { decodeFlac, isFlac } from './runtime/audio/flac_file.js';
export { KeywordDetector, type KeywordEvent } from './runtime/decisions/keyword_detector.js';
export { WindowedScorer, type ScoredFrame } from './runtime/decisions/windowed_scorer.js';
export { classifyFrames, type ClipResult } from './runtime/decisions/clip_classifier.js';
export { DecisionOptionsSchema, type DecisionOptions } from './runtime/decisions/options.js';
export {
  createAudioFrontend, computeFeatures, createAudioDecoder, KaldiFbank, Resampler, PCM_FORMATS,
  type AudioFrontend, type AudioFrontendOptions, type AudioInput, type FeatureMatrix, type AudioDecoder,
  type AudioDecoderOptions, type AudioStreamInfo, type AudioTruncation, type PcmFormatName, type ResamplerOptions,
} from './runtime/audio/index.js';
export { loadReferenceModel, ReferenceModel, ReferenceSession } from './models/ttt/reference.js';
export { withRuntimeOptions } from './models/ttt/runtime_options.js';
export type { LayerConfig as TttLayerConfig, RuntimeOptions as TttRuntimeOptions } from './models/ttt/config.js';
export { Engine, type EngineOptions } from './runtime/engine/engine.js';
export type { EngineOutput, EngineStats, ShardStats, StreamInfo, StreamSummary } from './runtime/engine/types.js';
export { exportStepModel } from './runtime/onnx/exporters.js';
export { STEP_INPUTS, STEP_OUTPUTS, STEP_CONVENTION_VERSION } from './runtime/onnx/step_convention.js';

// RxJS stream operators (one per file; state per subscription, freed on unsubscribe).
export { perDevice, type PerDeviceOptions } from './runtime/operators/per_device.js';
export { boundedBuffer, type BoundedBufferOptions } from './runtime/operators/bounded_buffer.js';
export { sequenceGuard, type SequenceGuardOptions, type StreamGap } from './runtime/operators/sequence_guard.js';
export { segmented, type SegmentBoundaries } from './runtime/operators/segmented.js';
export { decodePcm } from './runtime/operators/decode_pcm.js';
export { resampleAudio } from './runtime/operators/resample_audio.js';
export { audioFeatures } from './runtime/operators/audio_features.js';
export { spotKeywords, type SpotKeywordsOptions } from './runtime/operators/spot_keywords.js';
export { keywordSpotting, type KeywordSpottingOptions } from './runtime/operators/keyword_spotting.js';
export { decodeSensorFrames, type DecodeSensorFramesOptions } from './runtime/operators/decode_sensor_frames.js';
export { predictStream, type PredictStreamOptions } from './runtime/operators/predict_stream.js';
export { timeProcessing } from './runtime/operators/time_processing.js';
export { parseSensorPayload, type SensorEncoding, type SensorPayloadOptions, type ParsedSensorPayload } from './runtime/operators/sensor_payload.js';
export type { AudioChunk, PcmFormat, SampleChunk, FeatureFrame, KeywordScores, KeywordOutput, DeviceKeywordEvent, SensorFrame, SensorPrediction, RawMessage } from './runtime/operators/types.js';

// The stream service (MQTT in/out, Home Assistant discovery, health) for embedding.
export { createService, EdgestreamService, type CreateServiceOptions, type ServiceEvents, type ServicePlugin } from './transports/service/service.js';
export type { HealthSnapshot, DeviceHealth } from './transports/service/health.js';
export { ServiceConfigSchema, parseServiceConfig, loadServiceConfig, type ServiceConfig, type ServiceConfigInput } from './transports/service/config.js';
export { ServiceMetrics, type RejectReason } from './transports/service/metrics.js';
export type { HttpHandler } from './transports/service/http_server.js';
export { MqttAudioPublisher, type AudioPublisherOptions } from './transports/mqtt/audio_publisher.js';
export { startEmbeddedBroker, type EmbeddedBroker } from './transports/mqtt/embedded_broker.js';
export { TopicSchema, isValidDeviceId } from './transports/mqtt/topics.js';
export * as webrtc from './transports/webrtc/index.js';
export { createWebRtcIngress, webrtcPlugin, WebRtcPlugin, WebRtcClient } from './transports/webrtc/index.js';
