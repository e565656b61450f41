import { setTimeout as sleep } from 'node:timers/promises';
import { ReplaySubject, type Observable } from 'rxjs';
import { EdgestreamError } from '../../runtime/errors.js';
import { AudioSourceWriter } from './audio_source_writer.js';
import { loadWrtc, type Wrtc, type WrtcDataChannel, type WrtcPeerConnection } from './wrtc.js';

export interface WebRtcClientOptions {
  /** The signalling endpoint, e.g. `http://127.0.0.1:8099/webrtc/offer`. */
  url: string;
  token: string;
  /** Device id to stream as (`[A-Za-z0-9_-]{1,64}`). */
  device: string;
  /** Sample rate of the audio you will write. Default 16000. */
  sampleRate?: number;
  /** Wait at most this long for our ICE candidates before sending the offer. Default 3000 ms. */
  iceGatheringTimeoutMs?: number;
  /** Give up when the connection is not up this long after the answer. Default 10000 ms. */
  connectTimeoutMs?: number;
  wrtc?: Wrtc;
}

/** A JSON message from the service on the data channel (`hello`, `keyword`, `scores`). */
export interface ServerMessage {
  type: string;
  [key: string]: unknown;
}

/**
 * A Node program as a WebRTC microphone of an edgestream service: what the browser page does,
 * without a browser (tests, gateways that already hold PCM). Non-trickle offer with an audio
 * track and an `events` data channel, POSTed to the signalling endpoint.
 *
 * ```ts
 * const client = await WebRtcClient.connect({ url, token, device: 'kitchen', sampleRate: 16000 });
 * client.messages$.subscribe((m) => m.type === 'keyword' && console.log(m.event));
 * await client.play(samples);          // real time, 10 ms frames
 * client.close();
 * ```
 */
export class WebRtcClient {
  /** Messages from the service since the channel opened; the last 256 are replayed to late subscribers. */
  readonly messages$: Observable<ServerMessage>;
  readonly writer: AudioSourceWriter;
  private closed = false;

  private constructor(
    private readonly pc: WrtcPeerConnection,
    private readonly channel: WrtcDataChannel,
    writer: AudioSourceWriter,
    private readonly messages: ReplaySubject<ServerMessage>,
  ) {
    this.writer = writer;
    this.messages$ = messages.asObservable();
    channel.onclose = () => this.close();
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.close();
    };
  }

  static async connect(options: WebRtcClientOptions): Promise<WebRtcClient> {
    const wrtc = options.wrtc ?? loadWrtc();
    const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
    const writer = new AudioSourceWriter(wrtc, options.sampleRate ?? 16_000);
    try {
      pc.addTrack(writer.track);
      const channel = pc.createDataChannel('events');
      const messages = new ReplaySubject<ServerMessage>(256);
      channel.onmessage = (e) => {
        if (typeof e.data !== 'string') return;
        try {
          const m = JSON.parse(e.data) as unknown;
          if (m && typeof m === 'object' && typeof (m as ServerMessage).type === 'string') messages.next(m as ServerMessage);
        } catch {
          // not JSON: not from edgestream; ignored
        }
      };
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc, options.iceGatheringTimeoutMs ?? 3000);
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'offer', sdp: pc.localDescription?.sdp, device: options.device }),
      });
      const body = (await res.json().catch(() => ({}))) as { sdp?: string; error?: string };
      if (!res.ok || typeof body.sdp !== 'string') {
        throw new EdgestreamError('E_TRANSPORT_INPUT', `the service refused the offer: HTTP ${res.status} ${body.error ?? ''}`.trim(), { status: res.status });
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: body.sdp });
      await connected(pc, channel, options.connectTimeoutMs ?? 10_000);
      return new WebRtcClient(pc, channel, writer, messages);
    } catch (e) {
      writer.stop();
      pc.close();
      throw e;
    }
  }

  /** Write samples now (any length; they go out in 10 ms frames). */
  write(samples: Float32Array | Int16Array): void {
    if (!this.closed) this.writer.write(samples);
  }

  /** Write samples paced in real time, as a microphone would deliver them. */
  async play(samples: Float32Array | Int16Array): Promise<void> {
    const rate = this.writer.inputRate;
    const t0 = performance.now();
    let sent = 0;
    while (sent < samples.length && !this.closed) {
      // Keep one 10 ms frame ahead of the clock so the receiver's jitter buffer never runs dry.
      const due = Math.min(samples.length, Math.floor(((performance.now() - t0 + 10) / 1000) * rate));
      if (due > sent) {
        this.writer.write(samples.subarray(sent, due));
        sent = due;
      }
      await sleep(5);
    }
  }

  /** Hang up (the service sees the data channel close at once). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.onmessage = this.channel.onclose = null;
    this.pc.onconnectionstatechange = null;
    this.writer.stop();
    if (this.channel.readyState !== 'closed') this.channel.close();
    this.pc.close();
    this.messages.complete();
  }
}

function iceGatheringComplete(pc: WrtcPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

function connected(pc: WrtcPeerConnection, channel: WrtcDataChannel, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (pc.connectionState === 'connected' && channel.readyState === 'open') finish();
      else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') finish(new EdgestreamError('E_TRANSPORT_INPUT', `the WebRTC connection ${pc.connectionState}`));
    };
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      clearInterval(poll);
      pc.removeEventListener('connectionstatechange', check);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new EdgestreamError('E_TRANSPORT_INPUT', `the WebRTC connection was not up after ${timeoutMs} ms`)), timeoutMs);
    // The channel's open event has no listener API shared with the connection state: poll both.
    const poll = setInterval(check, 20);
    pc.addEventListener('connectionstatechange', check);
    check();
  });
}
