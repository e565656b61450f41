import type { DeviceState, InputMessage, PartitionHandlers, PartitionRestore, ReleaseReason } from '../../transports/cluster/index.js';

/**
 * A stand-in for the service's per-device pipelines with exactly checkable state: each device's
 * state is the list of payloads it has absorbed, in order. Snapshot = that list as JSON, restore =
 * parse it. After any sequence of hand-overs and crashes, a device's list must equal what was
 * published for it: a lost input is missing, a replayed one twice.
 */
export class DeviceLog implements PartitionHandlers {
  /** device → payloads, for the devices of owned partitions. */
  readonly logs = new Map<string, string[]>();
  private readonly devicesOf = new Map<number, Set<string>>();
  /** Every call, with performance.now() (ownership intervals, replay positions). */
  readonly calls: { t: number; kind: 'acquire' | 'release'; partition: number; reason?: ReleaseReason; restore?: PartitionRestore }[] = [];
  /** Calls out of order: an acquire of a partition held, or a release of one not held (the coordinator's contract is acquire, then release). */
  readonly orderErrors: string[] = [];
  /** Messages handled per partition, with their replay flag. */
  readonly handled: { partition: number; seq: number; device: string; replay: boolean }[] = [];

  constructor(readonly name: string) {}

  acquire(partition: number, restore: PartitionRestore): void {
    if (this.devicesOf.has(partition)) this.orderErrors.push(`acquire of partition ${partition}, already held`);
    this.calls.push({ t: performance.now(), kind: 'acquire', partition, restore });
    const devices = new Set<string>();
    for (const [device, s] of restore.snapshots) {
      this.logs.set(device, JSON.parse(new TextDecoder().decode(s.data)) as string[]);
      devices.add(device);
    }
    this.devicesOf.set(partition, devices);
  }

  message(m: InputMessage): void {
    const devices = this.devicesOf.get(m.partition);
    if (!devices) throw new Error(`${this.name}: message for partition ${m.partition}, which it does not own`);
    devices.add(m.device);
    const log = this.logs.get(m.device) ?? [];
    log.push(new TextDecoder().decode(m.data));
    this.logs.set(m.device, log);
    this.handled.push({ partition: m.partition, seq: m.seq, device: m.device, replay: m.replay });
  }

  snapshot(partition: number): DeviceState[] {
    return [...(this.devicesOf.get(partition) ?? [])].map((device) => ({ device, data: new TextEncoder().encode(JSON.stringify(this.logs.get(device) ?? [])) }));
  }

  release(partition: number, reason: ReleaseReason): void {
    if (!this.devicesOf.has(partition)) this.orderErrors.push(`release (${reason}) of partition ${partition}, not held`);
    this.calls.push({ t: performance.now(), kind: 'release', partition, reason });
    for (const d of this.devicesOf.get(partition) ?? []) this.logs.delete(d);
    this.devicesOf.delete(partition);
  }

  owns(partition: number): boolean {
    return this.devicesOf.has(partition);
  }
}
