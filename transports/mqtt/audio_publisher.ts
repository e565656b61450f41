import type { MqttClient } from 'mqtt';
import { EdgestreamError } from '../../runtime/errors.js';
import { bytesPerFrame } from '../../runtime/operators/pcm_layout.js';
import type { PcmFormat } from '../../runtime/operators/types.js';
import { setTcpNoDelay } from './tcp_no_delay.js';
import { isValidDeviceId, TopicSchema } from './topics.js';

/** The MQTT 5 properties an audio message carries: its format, and for chunks `seq` and stream `timestamp` (ms). */
export function audioMessageProperties(format: PcmFormat, type: 'chunk' | 'start' | 'stop', seq: number, timestampMs: number): { contentType: string; userProperties: Record<string, string> } {
  return {
    contentType: `audio/pcm;rate=${format.rate};channels=${format.channels};format=${format.encoding}`,
    userProperties: {
      rate: String(format.rate),
      width: format.encoding === 's16le' ? '2' : '4',
      channels: String(format.channels),
      ...(type === 'chunk' && { seq: String(seq) }),
      timestamp: String(Math.round(timestampMs)),
      type,
    },
  };
}

export interface AudioPublisherOptions {
  /** Base topic of the service. Default `edgestream`. */
  baseTopic?: string;
  device: string;
  /** Layout of the PCM bytes pushed. Default s16le, 16 kHz, mono. */
  format?: PcmFormat;
  /** Chunk length in ms (20–80 ms is what services expect). Default 20. */
  chunkMs?: number;
}

/**
 * The device side of `<base>/<device>/audio`: cuts a PCM byte stream (any read sizes, e.g. from
 * `arecord` on stdin) into fixed chunks of whole frames and publishes them at QoS 0. On MQTT 5 each
 * chunk carries its format, `seq` and stream `timestamp` as properties (the service then detects
 * lost chunks); on 3.1.1 only the bytes go out and the service uses its per-device format.
 */
export class MqttAudioPublisher {
  readonly topic: string;
  readonly format: PcmFormat;
  readonly chunkBytes: number;
  private readonly pending: Uint8Array;
  private pendingLength = 0;
  private seq = 0;
  private samplesSent = 0;
  private started = false;

  constructor(
    private readonly client: MqttClient,
    options: AudioPublisherOptions,
  ) {
    if (!isValidDeviceId(options.device)) throw new EdgestreamError('E_CONFIG', `device id "${options.device}" must match [A-Za-z0-9_-]{1,64}`);
    this.topic = new TopicSchema(options.baseTopic ?? 'edgestream').audio(options.device);
    this.format = options.format ?? { encoding: 's16le', rate: 16000, channels: 1 };
    const chunkMs = options.chunkMs ?? 20;
    const frames = Math.round((this.format.rate * chunkMs) / 1000);
    if (frames < 1) throw new EdgestreamError('E_CONFIG', `chunkMs ${chunkMs} is shorter than one sample`);
    this.chunkBytes = frames * bytesPerFrame(this.format);
    this.pending = new Uint8Array(this.chunkBytes);
    setTcpNoDelay(client);
  }

  /** Chunks published so far. */
  get chunksSent(): number { return this.seq; }
  /** Stream time of the audio sent so far, ms. */
  get sentMs(): number { return (this.samplesSent / this.format.rate) * 1000; }

  private get mqtt5(): boolean {
    return this.client.options.protocolVersion === 5;
  }

  private send(payload: Uint8Array, type: 'chunk' | 'start' | 'stop'): Promise<unknown> {
    const opts = this.mqtt5 ? { qos: 0 as const, properties: audioMessageProperties(this.format, type, this.seq, this.sentMs) } : { qos: 0 as const };
    const p = this.client.publishAsync(this.topic, Buffer.from(payload), opts);
    if (type === 'chunk') {
      this.seq++;
      this.samplesSent += payload.length / bytesPerFrame(this.format);
    }
    return p;
  }

  /** Push PCM bytes; publishes every complete chunk. Returns the number of chunks published. */
  push(bytes: Uint8Array): number {
    let n = 0;
    if (!this.started && this.mqtt5) {
      this.started = true;
      void this.send(new Uint8Array(0), 'start');
    }
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(this.chunkBytes - this.pendingLength, bytes.length - offset);
      this.pending.set(bytes.subarray(offset, offset + take), this.pendingLength);
      this.pendingLength += take;
      offset += take;
      if (this.pendingLength === this.chunkBytes) {
        void this.send(this.pending.slice(), 'chunk');
        this.pendingLength = 0;
        n++;
      }
    }
    return n;
  }

  /** Publish what is left (whole frames only) and, on MQTT 5, a `stop` marker. */
  async end(): Promise<void> {
    const whole = this.pendingLength - (this.pendingLength % bytesPerFrame(this.format));
    if (whole > 0) await this.send(this.pending.slice(0, whole), 'chunk');
    this.pendingLength = 0;
    if (this.mqtt5) await this.send(new Uint8Array(0), 'stop');
  }
}
