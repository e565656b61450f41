import { performance } from 'node:perf_hooks';

export interface LoadShedderOptions {
  /** Past capacity when chunks wait longer than this (p90, arrival → processed) while the event loop is busy. */
  maxLatencyMs: number;
  /** How often the decision is taken (ms). */
  checkMs: number;
  /** Event-loop utilisation (0–1) above which the process counts as busy. Default 0.85. */
  busyAbove?: number;
  /** Called when the number of devices served changes (for the log). */
  onChange?: (change: { cap: number | null; served: number; shed: number; p90LatencyMs: number; eventLoopUtilization: number }) => void;
}

/**
 * Keeps the audio devices the service can serve when there are more than it can: past capacity
 * (chunks waiting longer than `maxLatencyMs` while the event loop is busy), the devices that
 * started most recently stop being served (their chunks are dropped on arrival, before any
 * decoding, and counted) until the rest are back in time; when load falls, devices are taken back
 * a few at a time. Serving every device a little (every queue full, every chunk seconds late,
 * every stream restarting) would serve none of them.
 */
export class LoadShedder {
  /** Devices being served, in the order they were taken on (the newest are shed first). */
  private readonly served = new Set<string>();
  /** Most devices served while shedding; null when not shedding. */
  private cap: number | null = null;
  private latencies: number[] = [];
  /** Devices refused since the last check (demand beyond the cap). */
  private refused = new Set<string>();
  private elu = performance.eventLoopUtilization();
  private lastUtilization = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: LoadShedderOptions) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.o.checkMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** May this device's chunk be processed? (Takes the device on if there is room.) */
  admit(device: string): boolean {
    if (this.served.has(device)) return true;
    if (this.cap !== null && this.served.size >= this.cap) {
      this.refused.add(device);
      return false;
    }
    this.served.add(device);
    return true;
  }

  /** The device's stream ended (idle): it no longer counts. */
  release(device: string): void {
    this.served.delete(device);
  }

  /** A chunk was processed this long after it arrived. */
  observe(latencyMs: number): void {
    if (this.latencies.length < 20_000) this.latencies.push(latencyMs);
  }

  get shedding(): boolean {
    return this.cap !== null;
  }

  /** Most devices served now (null: no limit). */
  get servedCap(): number | null {
    return this.cap;
  }

  get utilization(): number {
    return this.lastUtilization;
  }

  isServed(device: string): boolean {
    return this.served.has(device);
  }

  /** One decision (exposed for tests; the timer calls it every `checkMs`). */
  check(): void {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    this.lastUtilization = u;
    const lat = this.latencies.sort((a, b) => a - b);
    const p90 = lat.length ? lat[Math.floor(lat.length * 0.9)]! : 0;
    this.latencies = [];
    const busy = u > (this.o.busyAbove ?? 0.85);
    const before = this.cap;
    if (p90 > this.o.maxLatencyMs && busy) {
      // Behind and busy: serve 15 % fewer devices (at least one fewer), dropping the newest.
      const target = Math.max(1, Math.floor(Math.min(this.cap ?? Infinity, this.served.size) * 0.85));
      this.cap = target;
      const order = [...this.served];
      for (let i = order.length - 1; i >= 0 && this.served.size > target; i--) this.served.delete(order[i]!);
    } else if (this.cap !== null && p90 < this.o.maxLatencyMs / 2 && !busy) {
      // In time with room to spare: take devices back, a tenth more at a time; no limit once nobody waits.
      if (this.refused.size === 0) this.cap = null;
      else this.cap += Math.max(1, Math.round(this.cap * 0.1));
    }
    const shed = this.refused.size;
    this.refused = new Set();
    if (before !== this.cap) this.o.onChange?.({ cap: this.cap, served: this.served.size, shed, p90LatencyMs: Math.round(p90), eventLoopUtilization: Math.round(u * 100) / 100 });
  }
}
