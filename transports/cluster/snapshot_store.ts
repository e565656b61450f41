import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { EdgestreamError } from '../../runtime/errors.js';
import { clusterError } from './buckets.js';
import { decodeDeviceSnapshot, encodeDeviceSnapshot, type DeviceSnapshotHeader } from './snapshot_envelope.js';
import { distinctKeys } from './kv_keys.js';

/** The replay position of a partition: every listed device's snapshot covers the inputs up to `throughSeq`. */
export interface PartitionCheckpoint {
  partition: number;
  /** Stream sequence up to which the partition's inputs are reflected in the snapshots (0: none yet). */
  throughSeq: number;
  /** Devices that had state at that point; each has a snapshot `d.<p>.<device>`. */
  devices: string[];
  writer: string;
  writtenAt: string;
}

export interface DeviceSnapshot {
  device: string;
  /** Stream sequence of the last input in this state. */
  inputSeq: number;
  /** The pipeline's own snapshot bytes. */
  data: Uint8Array;
  /** KV revision (increases with every write of this device). */
  revision: number;
  writer: string;
  writtenAt: string;
}

/** What the group's first worker recorded; later workers must agree. */
export interface GroupRecord {
  partitions: number;
  subjectPrefix: string;
  leaseTtlMs: number;
  memberTtlMs: number;
  createdAt: string;
}

const deviceKey = (p: number, device: string): string => `d.${p}.${device}`;
const checkpointKey = (p: number): string => `c.${p}`;
const GROUP_KEY = 'group';

/**
 * Versioned per-device session snapshots and per-partition checkpoints in a KV bucket (no TTL).
 * A checkpoint writes the device snapshots first and the partition record last, so a crash in
 * between leaves the previous record valid (the newer device snapshots carry their own input
 * position and replay skips what they already contain).
 */
export class SnapshotStore {
  constructor(
    private readonly kv: KV,
    private readonly writer: string,
    /** Largest value the server accepts (its max_payload), minus room for headers. */
    private readonly maxValueBytes: number,
    private readonly logger: Logger,
  ) {}

  /** Record the group's settings on first use; refuse (`E_CONFIG`) a worker that disagrees. */
  async checkGroup(expected: Omit<GroupRecord, 'createdAt'>): Promise<GroupRecord> {
    const record: GroupRecord = { ...expected, createdAt: new Date().toISOString() };
    try {
      await this.kv.create(GROUP_KEY, JSON.stringify(record));
      return record;
    } catch {
      // exists: compare below
    }
    const e = await this.kv.get(GROUP_KEY);
    if (!e || e.operation !== 'PUT') return this.checkGroup(expected);
    const existing = e.json<GroupRecord>();
    const differing = (Object.keys(expected) as (keyof typeof expected)[]).filter((k) => existing[k] !== expected[k]);
    if (differing.length > 0) {
      const list = differing.map((k) => `${k}: group has ${existing[k]}, this worker ${expected[k]}`).join('; ');
      throw new EdgestreamError('E_CONFIG', `this worker's cluster settings differ from its group's (${list}); every worker of a group must use the same values`, { differing });
    }
    return existing;
  }

  async readGroup(): Promise<GroupRecord | null> {
    const e = await this.kv.get(GROUP_KEY);
    return e && e.operation === 'PUT' ? e.json<GroupRecord>() : null;
  }

  async putDevice(partition: number, device: string, inputSeq: number, data: Uint8Array): Promise<number> {
    const header: DeviceSnapshotHeader = { device, partition, inputSeq, writer: this.writer, writtenAt: new Date().toISOString() };
    const value = encodeDeviceSnapshot(header, data);
    if (value.length > this.maxValueBytes) {
      throw new EdgestreamError('E_CLUSTER', `snapshot of device ${device} is ${value.length} bytes, above the server's max_payload (${this.maxValueBytes}): raise max_payload in the nats-server configuration`, { device, bytes: value.length });
    }
    try {
      return await this.kv.put(deviceKey(partition, device), value);
    } catch (e) {
      throw clusterError(`cannot write the snapshot of ${device}`, e);
    }
  }

  /** A device's latest snapshot, or null (none, deleted, or unreadable: logged). */
  async getDevice(partition: number, device: string): Promise<DeviceSnapshot | null> {
    const e = await this.kv.get(deviceKey(partition, device));
    if (!e || e.operation !== 'PUT') return null;
    try {
      const { header, data } = decodeDeviceSnapshot(e.value, `snapshot of ${device}`);
      return { device, inputSeq: header.inputSeq, data, revision: e.revision, writer: header.writer, writtenAt: header.writtenAt };
    } catch (err) {
      this.logger.warn({ device, partition, err: (err as Error).message }, 'unreadable device snapshot ignored (the device starts fresh)');
      return null;
    }
  }

  /** Forget a device (its stream ended): a later owner must not restore stale state. */
  async deleteDevice(partition: number, device: string): Promise<void> {
    try {
      await this.kv.delete(deviceKey(partition, device));
    } catch (e) {
      throw clusterError(`cannot delete the snapshot of ${device}`, e);
    }
  }

  async getCheckpoint(partition: number): Promise<PartitionCheckpoint | null> {
    const e = await this.kv.get(checkpointKey(partition));
    return e && e.operation === 'PUT' ? e.json<PartitionCheckpoint>() : null;
  }

  /**
   * Write every device snapshot of the partition (each with its own input position: usually
   * `throughSeq`, earlier for a device that needs inputs again after a restore, later for one
   * restored from a snapshot newer than the record), then the partition record pointing at `throughSeq`.
   */
  async writeCheckpoint(partition: number, throughSeq: number, snapshots: readonly { device: string; data: Uint8Array; inputSeq: number }[]): Promise<PartitionCheckpoint> {
    await Promise.all(snapshots.map((s) => this.putDevice(partition, s.device, s.inputSeq, s.data)));
    const record: PartitionCheckpoint = { partition, throughSeq, devices: snapshots.map((s) => s.device).sort(), writer: this.writer, writtenAt: new Date().toISOString() };
    try {
      await this.kv.put(checkpointKey(partition), JSON.stringify(record));
    } catch (e) {
      throw clusterError(`cannot write the checkpoint of partition ${partition}`, e);
    }
    return record;
  }

  /** The partition's checkpoint and the snapshots of the devices it lists. */
  async loadPartition(partition: number): Promise<{ checkpoint: PartitionCheckpoint | null; snapshots: Map<string, DeviceSnapshot> }> {
    const checkpoint = await this.getCheckpoint(partition);
    const snapshots = new Map<string, DeviceSnapshot>();
    if (checkpoint) {
      const loaded = await Promise.all(checkpoint.devices.map((d) => this.getDevice(partition, d)));
      for (const s of loaded) if (s) snapshots.set(s.device, s);
    }
    return { checkpoint, snapshots };
  }

  /** Every partition's checkpoint (status). */
  async readCheckpoints(): Promise<PartitionCheckpoint[]> {
    const out: PartitionCheckpoint[] = [];
    for (const key of await distinctKeys(this.kv, 'c.*')) {
      const e = await this.kv.get(key);
      if (e && e.operation === 'PUT') out.push(e.json<PartitionCheckpoint>());
    }
    return out.sort((a, b) => a.partition - b.partition);
  }
}
