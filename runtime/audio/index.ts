/**
 * The streaming audio front end: bytes or samples in (WAV or raw PCM, any rate, any chunking),
 * Kaldi log-mel frames out, as the LMUFormer checkpoints were trained on.
 */
export { createAudioFrontend, type AudioFrontend, type AudioFrontendOptions, type AudioInput } from './audio_frontend.js';
export { computeFeatures, type FeatureMatrix } from './compute_features.js';
export { createAudioDecoder, type AudioDecoder, type AudioDecoderOptions, type AudioStreamInfo } from './audio_decoder.js';
export { KaldiFbank, fbankGeometry, type FbankGeometry, type FrameSink } from './kaldi_fbank.js';
export { Resampler, type ResamplerOptions } from './resampler.js';
export { PCM_FORMATS, pcmFormat, type PcmEncoding, type PcmFormatName } from './pcm_format.js';
export { PcmChunkDecoder } from './pcm_decoder.js';
export { WavStreamDecoder, type AudioTruncation } from './wav_stream_decoder.js';
export type { WavFormat } from './wav_container.js';
