import { BehaviorSubject } from 'rxjs';
import type { DeviceConfig } from './config.js';
import { emptyFigures, type DeviceFigures } from './metrics.js';

/** What the service knows about one device. */
export interface DeviceEntry {
  readonly id: string;
  /** From `devices.<id>` in the config, if listed. */
  readonly config: DeviceConfig | undefined;
  /** Audio is processed only while listening (`<base>/<device>/set` ON/OFF). */
  listening: boolean;
  /** `threshold/set` override for every label (null: the configured thresholds). */
  readonly threshold$: BehaviorSubject<number | null>;
  /** A stream (audio or sensor) is running. */
  audioActive: boolean;
  sensorActive: boolean;
  /** The next accepted chunk starts a new stream segment (audio was skipped or lost). */
  pendingGap: boolean;
  /** Discovery was published for the current broker connection. */
  announced: boolean;
  lastKeyword: string | null;
  lastScore: number | null;
  lastTs: string | null;
  /** Time of the last `scores` publish (rate limit). */
  lastScoresAt: number;
  figures: DeviceFigures;
}

/**
 * The devices the service has seen or was configured with, at most `capacity`. When full, a new
 * device takes the place of the least recently active idle device that is not in the config;
 * if there is none it is refused.
 */
export class DeviceRegistry {
  private readonly entries = new Map<string, DeviceEntry>();

  constructor(
    private readonly capacity: number,
    private readonly configured: Readonly<Record<string, DeviceConfig>>,
  ) {
    for (const id of Object.keys(configured)) this.entries.set(id, this.make(id));
  }

  get size(): number { return this.entries.size; }
  get(id: string): DeviceEntry | undefined { return this.entries.get(id); }
  all(): IterableIterator<DeviceEntry> { return this.entries.values(); }

  /**
   * The entry for `id`, created if there is room. Returns `{entry}` or `{evicted}` alongside when
   * an idle device had to make room, or null when the registry is full of active/configured devices.
   */
  admit(id: string): { entry: DeviceEntry; evicted?: DeviceEntry } | null {
    const existing = this.entries.get(id);
    if (existing) return { entry: existing };
    let evicted: DeviceEntry | undefined;
    if (this.entries.size >= this.capacity) {
      for (const e of this.entries.values()) {
        if (e.config || e.audioActive || e.sensorActive) continue;
        if (!evicted || (e.figures.lastChunkAt ?? 0) < (evicted.figures.lastChunkAt ?? 0)) evicted = e;
      }
      if (!evicted) return null;
      this.entries.delete(evicted.id);
      evicted.threshold$.complete();
    }
    const entry = this.make(id);
    this.entries.set(id, entry);
    return evicted ? { entry, evicted } : { entry };
  }

  /** Forget a device (its threshold stream completes). */
  remove(id: string): void {
    this.entries.get(id)?.threshold$.complete();
    this.entries.delete(id);
  }

  private make(id: string): DeviceEntry {
    const config = this.configured[id];
    return {
      id,
      config,
      listening: config?.listening ?? true,
      threshold$: new BehaviorSubject<number | null>(null),
      audioActive: false,
      sensorActive: false,
      pendingGap: false,
      announced: false,
      lastKeyword: null,
      lastScore: null,
      lastTs: null,
      lastScoresAt: 0,
      figures: emptyFigures(),
    };
  }
}
