import type { CoordinatorStatus } from '../cluster/coordinator.js';

/** A cluster worker's part of /healthz (docs/cluster.md, "Health and metrics per worker"). */
export interface ClusterHealth {
  member: string;
  /** Live members of the group as this worker sees them. */
  members: string[];
  nats_connected: boolean;
  /** Partitions this worker owns (and consumes). */
  partitions_owned: number[];
  /** Devices of those partitions with state on this worker. */
  devices: number;
  acquisitions: number;
  /** Partitions handed over (a member joined or left, or this worker stopped). */
  handovers: number;
  /** Partitions lost (lease not renewed in time: another worker may own them). */
  partitions_lost: number;
  checkpoints: number;
  checkpoint_failures: number;
  devices_restored: number;
  devices_handed_over: number;
  /** Age of the oldest owned partition's last snapshot (ms; null without partitions). */
  snapshot_age_ms: number | null;
  /** Inputs the stream holds beyond what this worker has handled, over its partitions (replay lag). */
  replay_lag: number;
  partitions: { partition: number; devices: number; last_seq: number; pending: number; checkpoint_seq: number; checkpoint_age_ms: number }[];
}

export interface ClusterHealthInputs {
  status: CoordinatorStatus;
  natsConnected: boolean;
  devices: number;
  counts: { devicesRestored: number; devicesHandedOver: number };
}

export function clusterHealth(i: ClusterHealthInputs): ClusterHealth {
  const s = i.status;
  return {
    member: s.member,
    members: s.members,
    nats_connected: i.natsConnected,
    partitions_owned: s.owned.map((p) => p.partition),
    devices: i.devices,
    acquisitions: s.acquisitions,
    handovers: s.handovers,
    partitions_lost: s.lost,
    checkpoints: s.checkpoints,
    checkpoint_failures: s.checkpointFailures,
    devices_restored: i.counts.devicesRestored,
    devices_handed_over: i.counts.devicesHandedOver,
    snapshot_age_ms: s.owned.length > 0 ? Math.max(...s.owned.map((p) => p.checkpointAgeMs)) : null,
    replay_lag: s.owned.reduce((n, p) => n + p.pending, 0),
    partitions: s.owned.map((p) => ({ partition: p.partition, devices: p.devices, last_seq: p.lastSeq, pending: p.pending, checkpoint_seq: p.checkpointSeq, checkpoint_age_ms: p.checkpointAgeMs })),
  };
}
