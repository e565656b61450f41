/**
 * Browser microphones over WebRTC (@roamhq/wrtc, loaded on first use): the signalling ingress,
 * the service plugin, a Node client, and the audio pieces they are built from.
 */
export {
  createWebRtcIngress, WebRtcIngress, WebRtcSettingsSchema,
  type WebRtcIngressOptions, type WebRtcSettings, type WebRtcRoute, type WebRtcIngressEvents, type WebRtcIngressStats, type ScoresLike,
} from './ingress.js';
export { webrtcPlugin, webrtcPluginFromConfig, WebRtcPlugin, WebRtcConfigSchema, type WebRtcPluginOptions, type WebRtcConfig, type WebRtcConfigInput, type WebRtcHost } from './plugin.js';
export type { PeerCloseReason } from './peer.js';
export { WebRtcClient, type WebRtcClientOptions, type ServerMessage } from './webrtc_client.js';
export { fromAudioSink, type SinkAudio } from './audio_sink_source.js';
export { resampleSinkAudio, type ResampledAudio } from './resample_sink_audio.js';
export { TenMsChunker } from './ten_ms_chunker.js';
export { AudioSourceWriter } from './audio_source_writer.js';
export { loadWrtc, WRTC_PACKAGE, type Wrtc } from './wrtc.js';
