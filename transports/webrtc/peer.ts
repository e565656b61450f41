import type { Logger } from 'pino';
import { filter, finalize, map, Subject, takeUntil, tap, type Subscription } from 'rxjs';
import type { ResamplerOptions } from '../../runtime/audio/resampler.js';
import { EdgestreamError } from '../../runtime/errors.js';
import type { AudioChunk } from '../../runtime/operators/types.js';
import { fromAudioSink } from './audio_sink_source.js';
import { resampleSinkAudio } from './resample_sink_audio.js';
import type { Wrtc, WrtcDataChannel, WrtcIceServer, WrtcMediaStreamTrack, WrtcPeerConnection } from './wrtc.js';

/** Why a peer went away (log field, counter label). */
export type PeerCloseReason =
  | 'remote_closed' // the browser closed its data channel or connection
  | 'ice_failed' // ICE/DTLS failed
  | 'disconnected' // ICE disconnected and did not come back within the grace period
  | 'connect_timeout' // never connected after the answer
  | 'audio_timeout' // connected, but no audio arrived for too long
  | 'replaced' // the same device connected again
  | 'audio_error' // the audio path failed
  | 'negotiation_failed' // the offer could not be answered
  | 'shutdown'; // the ingress closed

export interface PeerOptions {
  wrtc: Wrtc;
  device: string;
  /** Output sample rate of the audio chunks. */
  sampleRate: number;
  resampler?: ResamplerOptions;
  iceServers: WrtcIceServer[];
  iceGatheringTimeoutMs: number;
  connectTimeoutMs: number;
  disconnectGraceMs: number;
  audioTimeoutMs: number;
  log: Logger;
  /** Every chunk of this peer's stream (`start`, chunks, `stop`). */
  onAudio: (chunk: AudioChunk) => void;
  /** Called when the browser's data channel is open (send a greeting). */
  onChannelOpen?: (peer: WebRtcPeer) => void;
  /** Called once, when ICE and DTLS are up. */
  onConnected?: (peer: WebRtcPeer) => void;
  /** Called once, after the peer has released everything. */
  onClosed: (peer: WebRtcPeer, reason: PeerCloseReason) => void;
}

/**
 * One browser microphone: an RTCPeerConnection that receives one audio track (read through an
 * RTCAudioSink, resampled per event to `sampleRate`) and a data channel opened by the browser for
 * events going back. Negotiation is non-trickle: `answer()` returns an SDP with every candidate.
 * Everything the peer holds is released by `close()`, which runs at most once, from whichever of
 * these comes first: the browser hanging up, ICE failure, timeouts, replacement, shutdown.
 */
export class WebRtcPeer {
  readonly device: string;
  readonly createdAt = Date.now();
  private readonly options: PeerOptions;
  private readonly pc: WrtcPeerConnection;
  private channel: WrtcDataChannel | null = null;
  private audio: Subscription | null = null;
  private readonly closing$ = new Subject<void>();
  private timers = new Set<NodeJS.Timeout>();
  private disconnectTimer: NodeJS.Timeout | null = null;
  private closeReason: PeerCloseReason | null = null;
  private lastAudioAt = 0;
  private connectedAt: number | null = null;
  /** Audio chunks emitted (for stats). */
  chunks = 0;

  constructor(options: PeerOptions) {
    this.options = options;
    this.device = options.device;
    this.pc = new options.wrtc.RTCPeerConnection({ iceServers: options.iceServers });
    this.pc.ontrack = ({ track }) => this.onTrack(track);
    this.pc.ondatachannel = ({ channel }) => this.onDataChannel(channel);
    this.pc.onconnectionstatechange = () => this.onConnectionState();
    this.pc.oniceconnectionstatechange = () => this.onConnectionState();
    this.after(options.connectTimeoutMs, () => {
      if (this.connectedAt === null) this.close('connect_timeout');
    });
  }

  get closed(): boolean {
    return this.closeReason !== null;
  }
  /** Why the peer closed (null while open). */
  get closedBecause(): PeerCloseReason | null {
    return this.closeReason;
  }
  get connected(): boolean {
    return this.connectedAt !== null && !this.closed;
  }

  /**
   * Take the browser's offer and return the answer SDP once ICE gathering is complete (or after
   * `iceGatheringTimeoutMs`, with the candidates found so far). An offer the WebRTC stack cannot
   * use is an `E_TRANSPORT_INPUT` error carrying its reason.
   */
  async answer(offerSdp: string): Promise<string> {
    try {
      await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    } catch (e) {
      throw new EdgestreamError('E_TRANSPORT_INPUT', `the SDP offer was rejected: ${firstLine(e)}`);
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.iceGatheringComplete();
    const sdp = this.pc.localDescription?.sdp;
    if (this.closed || !sdp) throw new EdgestreamError('E_TRANSPORT_INPUT', 'the peer closed during negotiation');
    return sdp;
  }

  /** Send a text message on the data channel; false when it is not open (or is backed up, for droppable messages). */
  send(text: string, droppable = false): boolean {
    const ch = this.channel;
    if (!ch || ch.readyState !== 'open') return false;
    // Score updates are dropped rather than queued behind a slow link; events always go.
    if (droppable && ch.bufferedAmount > 64 * 1024) return false;
    try {
      ch.send(text);
      return true;
    } catch (e) {
      this.options.log.warn({ device: this.device, err: firstLine(e) }, 'data channel send failed');
      return false;
    }
  }

  /** Release everything (idempotent). The audio stream ends with a `stop` chunk. */
  close(reason: PeerCloseReason): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    // Completing the audio flushes the resampler and emits `stop`; unsubscribing stops the sink.
    this.closing$.next();
    this.closing$.complete();
    this.audio?.unsubscribe();
    this.audio = null;
    const ch = this.channel;
    this.channel = null;
    if (ch) {
      ch.onopen = ch.onclose = ch.onmessage = ch.onerror = null;
      if (ch.readyState !== 'closed') ch.close();
    }
    this.pc.ontrack = null;
    this.pc.ondatachannel = null;
    this.pc.onconnectionstatechange = null;
    this.pc.oniceconnectionstatechange = null;
    this.pc.close();
    this.options.log.info({ device: this.device, reason, chunks: this.chunks, ms: Date.now() - this.createdAt }, 'webrtc peer closed');
    this.options.onClosed(this, reason);
  }

  private onTrack(track: WrtcMediaStreamTrack): void {
    if (this.closed || track.kind !== 'audio' || this.audio) return; // one microphone per peer
    const { wrtc, device, sampleRate, onAudio } = this.options;
    const format = { encoding: 'f32le' as const, rate: sampleRate, channels: 1 };
    let seq = 0;
    let samples = 0;
    let started = false;
    this.audio = fromAudioSink(wrtc, track)
      .pipe(
        // The sink plays out silence as soon as the track exists; only audio after the connection is up is the browser's.
        filter(() => this.connectedAt !== null),
        tap((ev) => (this.lastAudioAt = ev.receivedAt)),
        takeUntil(this.closing$),
        resampleSinkAudio(sampleRate, this.options.resampler),
        map((r): AudioChunk => {
          const chunk: AudioChunk = { device, kind: 'chunk', data: r.samples, format, seq, timestampMs: (samples / sampleRate) * 1000, receivedAt: r.receivedAt };
          seq++;
          samples += r.samples.length;
          return chunk;
        }),
        finalize(() => {
          if (started) onAudio({ device, kind: 'stop', data: new Float32Array(0), format, seq, timestampMs: (samples / sampleRate) * 1000, receivedAt: Date.now() });
        }),
      )
      .subscribe({
        next: (chunk) => {
          if (!started) {
            started = true;
            onAudio({ device, kind: 'start', data: new Float32Array(0), format, timestampMs: 0, receivedAt: chunk.receivedAt ?? Date.now() });
          }
          this.chunks++;
          onAudio(chunk);
        },
        error: (e: unknown) => {
          this.options.log.error({ device, err: firstLine(e) }, 'webrtc audio failed');
          queueMicrotask(() => this.close('audio_error'));
        },
      });
  }

  private onDataChannel(channel: WrtcDataChannel): void {
    if (this.closed || this.channel) {
      channel.close(); // one event channel per peer
      return;
    }
    this.channel = channel;
    let greeted = false;
    const opened = (): void => {
      if (greeted || this.closed) return;
      greeted = true;
      this.options.onChannelOpen?.(this);
    };
    channel.onopen = opened;
    if (channel.readyState === 'open') queueMicrotask(opened);
    channel.onmessage = () => {
      // The browser has nothing to say yet; messages are ignored (they cost nothing to drop).
    };
    // The browser closing its channel is the fast "hang up" signal (ICE takes seconds to notice).
    channel.onclose = () => this.close('remote_closed');
  }

  private onConnectionState(recheck = false): void {
    if (this.closed) return;
    // @roamhq/wrtc's connectionState still reads `connected` when ICE goes `disconnected` (seen on
    // 0.10: connected → failed 10 s later), so the ICE state decides the grace period.
    const ice = this.pc.iceConnectionState;
    const state = ice === 'disconnected' && this.pc.connectionState === 'connected' ? 'disconnected' : this.pc.connectionState;
    this.options.log.debug({ device: this.device, state, ice }, 'webrtc connection state');
    if (state === 'connected') {
      if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
      this.disconnectTimer = null;
      // A change event that still reads connected/connected after the connection was up: seen when
      // ICE went disconnected (the next event was `failed` 10 s later, so the grace period never
      // began). Read the states again shortly, once per such event.
      if (this.connectedAt !== null && !recheck) this.after(100, () => this.onConnectionState(true));
      if (this.connectedAt === null) {
        this.connectedAt = Date.now();
        this.lastAudioAt = this.connectedAt;
        this.watchAudio();
        this.options.log.info({ device: this.device, ms: this.connectedAt - this.createdAt }, 'webrtc peer connected');
        this.options.onConnected?.(this);
      }
    } else if (state === 'failed') {
      this.close('ice_failed');
    } else if (state === 'closed') {
      this.close('remote_closed');
    } else if (state === 'disconnected' && !this.disconnectTimer) {
      this.disconnectTimer = setTimeout(() => this.close('disconnected'), this.options.disconnectGraceMs);
    }
  }

  /** Close the peer when its audio stops arriving (a browser gone without a word). */
  private watchAudio(): void {
    const period = Math.max(50, Math.min(1000, this.options.audioTimeoutMs / 4));
    const check = (): void => {
      if (this.closed) return;
      if (Date.now() - this.lastAudioAt > this.options.audioTimeoutMs) this.close('audio_timeout');
      else this.after(period, check);
    };
    this.after(period, check);
  }

  private iceGatheringComplete(): Promise<void> {
    const pc = this.pc;
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        pc.removeEventListener('icegatheringstatechange', onChange);
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve();
      };
      const onChange = (): void => {
        if (pc.iceGatheringState === 'complete') done();
      };
      const timer = this.after(this.options.iceGatheringTimeoutMs, done);
      pc.addEventListener('icegatheringstatechange', onChange);
    });
  }

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
