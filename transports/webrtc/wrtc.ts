import { createRequire } from 'node:module';
import { EdgestreamError } from '../../runtime/errors.js';

/**
 * The parts of @roamhq/wrtc (the maintained node-webrtc fork) that edgestream uses, typed here
 * because the package's own types lean on the DOM library. Loaded lazily: the package is an
 * optional dependency (prebuilt for linux-x64/arm64 with glibc ≥ 2.34, macOS, Windows), so MQTT-only
 * installs work on platforms without a binary.
 */

/** 16-bit PCM as RTCAudioSource takes it and RTCAudioSink delivers it. */
export interface WrtcAudioData {
  /** Interleaved samples, `numberOfFrames × channelCount`. */
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample?: number;
  channelCount?: number;
  /** Sample frames per channel; RTCAudioSource insists on exactly 10 ms. */
  numberOfFrames?: number;
}

export interface WrtcMediaStreamTrack {
  readonly id: string;
  readonly kind: string;
  readonly readyState: 'live' | 'ended';
  enabled: boolean;
  stop(): void;
}

export interface WrtcAudioSink {
  ondata: ((data: Required<WrtcAudioData>) => void) | null;
  readonly stopped: boolean;
  stop(): void;
}

export interface WrtcAudioSource {
  createTrack(): WrtcMediaStreamTrack;
  /** Throws a TypeError (`Expected a .byteLength of N, not M`) unless given exactly 10 ms. */
  onData(data: WrtcAudioData): void;
}

export interface WrtcMessageEvent {
  data: string | ArrayBuffer;
}

export interface WrtcDataChannel {
  readonly label: string;
  readonly readyState: 'connecting' | 'open' | 'closing' | 'closed';
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onerror: ((e: unknown) => void) | null;
  onmessage: ((e: WrtcMessageEvent) => void) | null;
  send(data: string | Uint8Array): void;
  close(): void;
}

export interface WrtcSessionDescriptionInit {
  type: 'offer' | 'answer' | 'pranswer' | 'rollback';
  sdp: string;
}

export type WrtcConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface WrtcIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface WrtcPeerConnection {
  readonly connectionState: WrtcConnectionState;
  readonly iceConnectionState: string;
  readonly iceGatheringState: 'new' | 'gathering' | 'complete';
  readonly signalingState: string;
  readonly localDescription: WrtcSessionDescriptionInit | null;
  ontrack: ((e: { track: WrtcMediaStreamTrack }) => void) | null;
  ondatachannel: ((e: { channel: WrtcDataChannel }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  oniceconnectionstatechange: (() => void) | null;
  addEventListener(type: 'icegatheringstatechange' | 'connectionstatechange', listener: () => void): void;
  removeEventListener(type: 'icegatheringstatechange' | 'connectionstatechange', listener: () => void): void;
  createOffer(): Promise<WrtcSessionDescriptionInit>;
  createAnswer(): Promise<WrtcSessionDescriptionInit>;
  setLocalDescription(d: WrtcSessionDescriptionInit): Promise<void>;
  setRemoteDescription(d: WrtcSessionDescriptionInit): Promise<void>;
  addTrack(track: WrtcMediaStreamTrack): unknown;
  createDataChannel(label: string, init?: { ordered?: boolean; maxRetransmits?: number }): WrtcDataChannel;
  close(): void;
}

export interface Wrtc {
  RTCPeerConnection: new (config?: { iceServers?: WrtcIceServer[] }) => WrtcPeerConnection;
  nonstandard: {
    RTCAudioSink: new (track: WrtcMediaStreamTrack) => WrtcAudioSink;
    RTCAudioSource: new () => WrtcAudioSource;
  };
}

/** The npm package edgestream's WebRTC transport runs on. */
export const WRTC_PACKAGE = '@roamhq/wrtc';

const require = createRequire(import.meta.url);
let loaded: Wrtc | null = null;

/**
 * Load @roamhq/wrtc once. A missing package or binary is an `E_BACKEND` error that names the
 * package, the platform requirement (glibc ≥ 2.34 on Linux: Raspberry Pi OS Bookworm 64-bit) and the
 * real loader error, which the package itself hides behind "Could not find wrtc binary".
 */
export function loadWrtc(): Wrtc {
  loaded ??= loadWrtcModule(WRTC_PACKAGE);
  return loaded;
}

/** `loadWrtc` for a given module specifier (tests point it at a package that is not there). */
export function loadWrtcModule(specifier: string): Wrtc {
  let mod: Wrtc;
  try {
    mod = require(specifier) as Wrtc;
  } catch (e) {
    throw wrtcLoadError(specifier, e);
  }
  installExitGuard();
  return mod;
}

function wrtcLoadError(specifier: string, e: unknown): EdgestreamError {
  const triple = `${process.platform}-${process.arch}`;
  let reason = e instanceof Error ? e.message : String(e);
  if (reason.includes('Could not find wrtc binary')) {
    // The real cause (a missing platform package, `GLIBC_2.34' not found`) is in this require.
    try {
      require(`${specifier}-${triple}`);
    } catch (inner) {
      reason = inner instanceof Error ? inner.message : String(inner);
    }
  }
  reason = reason.split('\n')[0]!;
  const glibc = glibcVersion();
  return new EdgestreamError(
    'E_BACKEND',
    `WebRTC needs the optional npm package ${WRTC_PACKAGE} and its prebuilt binary ${WRTC_PACKAGE}-${triple} ` +
      `(Linux x64/arm64 binaries need glibc >= 2.34, e.g. Raspberry Pi OS Bookworm 64-bit; 32-bit images are not supported` +
      `${glibc ? `; this system has glibc ${glibc}` : ''}). Install it with \`npm install ${WRTC_PACKAGE}\`. Loading failed: ${reason}`,
    { package: WRTC_PACKAGE, platform: triple, ...(glibc && { glibc }) },
    { cause: e },
  );
}

function glibcVersion(): string | undefined {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime;
}

let guarded = false;

/**
 * @roamhq/wrtc 0.10 crashes (SIGSEGV) while Node tears its environment down after a natural exit:
 * the finalizers of RTCRtpReceiver and RTCAudioSource unreference MediaStreamTrack wrappers that were
 * already finalized (checked here; upstream node-webrtc#636, WonderInventions/node-webrtc#35). Once the
 * binding is loaded, the process therefore ends from its last 'exit' listener with `process.exit`,
 * which skips that teardown; the exit code and every other 'exit' listener are kept.
 */
function installExitGuard(): void {
  if (guarded) return;
  guarded = true;
  // A fatal exception already ends the process without the teardown, and Node prints it after the
  // 'exit' listeners: leave that path alone so that the error is reported.
  let fatal = false;
  process.on('uncaughtExceptionMonitor', () => {
    fatal = true;
  });
  const guard = (code: number): void => {
    if (fatal) return;
    const listeners = process.listeners('exit');
    for (const l of listeners.slice(listeners.indexOf(guard) + 1)) l.call(process, code);
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : code);
  };
  process.on('exit', guard);
}
