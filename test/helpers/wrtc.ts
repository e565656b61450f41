import { loadWrtc, type Wrtc, type WrtcAudioData, type WrtcAudioSink, type WrtcMediaStreamTrack } from '../../transports/webrtc/wrtc.js';
import { describeError } from '../../runtime/errors.js';

/**
 * @roamhq/wrtc when it loads here, else the skip reason naming the package (the tests that need it
 * report a skip rather than fail on a platform without its binary).
 */
export function wrtcOrSkip(): { wrtc: Wrtc; skip: false } | { wrtc: null; skip: string } {
  try {
    return { wrtc: loadWrtc(), skip: false };
  } catch (e) {
    return { wrtc: null, skip: `needs the npm package @roamhq/wrtc (${describeError(e).slice(0, 200)})` };
  }
}

/**
 * A wrtc whose RTCAudioSink constructor records every sink it makes (teardown checks) and, with
 * `onData`, every event they deliver (the binding's EventTarget calls listeners beside `ondata`).
 */
export function spyingWrtc(wrtc: Wrtc, onData?: (e: Required<WrtcAudioData>) => void): { wrtc: Wrtc; sinks: WrtcAudioSink[] } {
  const sinks: WrtcAudioSink[] = [];
  const Real = wrtc.nonstandard.RTCAudioSink;
  function RTCAudioSink(track: WrtcMediaStreamTrack): WrtcAudioSink {
    const sink = new Real(track) as WrtcAudioSink & { addEventListener(type: 'data', l: (e: Required<WrtcAudioData>) => void): void };
    if (onData) sink.addEventListener('data', onData);
    sinks.push(sink);
    return sink;
  }
  const spied: Wrtc = {
    RTCPeerConnection: wrtc.RTCPeerConnection,
    nonstandard: { RTCAudioSource: wrtc.nonstandard.RTCAudioSource, RTCAudioSink: RTCAudioSink as unknown as Wrtc['nonstandard']['RTCAudioSink'] },
  };
  return { wrtc: spied, sinks };
}
