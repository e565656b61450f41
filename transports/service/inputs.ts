import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import type { AudioChunk, RawMessage } from '../../runtime/operators/types.js';
import type { Announcer } from './announcer.js';
import type { ServiceConfig } from './config.js';
import type { DeviceEntry, DeviceRegistry } from './device_registry.js';
import type { DeviceStats } from './device_stats.js';
import type { LoadShedder } from './load_shedder.js';

/** Shorten and clean a topic, device id or payload for a log line. */
export function truncate(s: string, n = 80): string {
  const clean = s.replace(/[\u0000-\u001f]/g, '?');
  return clean.length > n ? `${clean.slice(0, n)}…` : clean;
}

/**
 * Where every input of the service enters, whatever transport brought it (MQTT, WebRTC, an
 * attached source): device admission (at most `maxDevices`; an idle device may make room), the
 * listening switch, counting, and the two streams the per-device pipelines read.
 */
export class ServiceInputs {
  readonly audio = new Subject<AudioChunk>();
  readonly sensor = new Subject<RawMessage>();

  constructor(
    private readonly config: ServiceConfig,
    private readonly devices: DeviceRegistry,
    private readonly stats: DeviceStats,
    private readonly announcer: Announcer,
    private readonly log: Logger,
    /** Past capacity, decides which devices are served (null: every device always is). */
    private readonly shedder: LoadShedder | null = null,
  ) {}

  /** The device's entry, or null (counted as `too_many_devices`) when the registry is full. */
  admit(device: string): DeviceEntry | null {
    const r = this.devices.admit(device);
    if (!r) {
      this.stats.rejected('too_many_devices', `device ${device} refused: ${this.config.maxDevices} devices are active (maxDevices)`);
      return null;
    }
    if (r.evicted) {
      this.stats.metrics.removeDevice(r.evicted.id);
      this.announcer.forget(r.evicted);
      this.log.info({ device: r.evicted.id, replacedBy: device }, 'idle device forgotten to make room');
    }
    return r.entry;
  }

  /** An audio chunk for an admitted device (`input`: the service's audio stream, or the warm-up's). */
  acceptAudio(entry: DeviceEntry, chunk: AudioChunk, input: Subject<AudioChunk> = this.audio): void {
    if (!entry.listening) {
      entry.pendingGap = true; // the stream resumes with fresh state
      return;
    }
    let c = chunk;
    const at = chunk.receivedAt ?? Date.now();
    if (chunk.kind === 'chunk') {
      if (this.shedder && !this.shedder.admit(entry.id)) {
        // Shed: dropped before any decoding; the device resumes with fresh state when taken back.
        this.stats.chunkShed(entry);
        entry.pendingGap = true;
        entry.figures.lastChunkAt = at;
        return;
      }
      if (entry.pendingGap) {
        c = { ...chunk, gap: true };
        entry.pendingGap = false;
      }
      this.stats.chunkAccepted(entry, at);
    } else {
      entry.figures.lastChunkAt = at;
    }
    input.next(c);
  }

  /** A raw sensor message (admission included). */
  acceptSensor(m: RawMessage, sensorModelLoaded: boolean): void {
    if (!sensorModelLoaded) return this.stats.rejected('unknown_topic', `sensor frame for ${m.device}, but no sensor.model is configured`, m.device);
    const entry = this.admit(m.device);
    if (!entry) return;
    this.stats.sensorMessageAccepted(entry, m.receivedAt ?? Date.now());
    this.sensor.next(m);
  }

  /** No more input: every device pipeline ends. */
  complete(): void {
    this.audio.complete();
    this.sensor.complete();
  }
}
