// The cluster building blocks (docs/cluster.md, "Cluster"): what the stream service uses to run as one of
// many workers on NATS JetStream.
export { ClusterConfigSchema, parseClusterConfig, type ClusterConfig, type ClusterConfigInput } from './cluster_config.js';
export {
  ClusterCoordinator,
  startClusterCoordinator,
  type CoordinatorEvents,
  type CoordinatorOptions,
  type CoordinatorStatus,
  type DeviceState,
  type PartitionHandlers,
  type PartitionRestore,
  type PartitionStatus,
  type ReleaseReason,
} from './coordinator.js';
export type { InputMessage } from './partition_consumer.js';
export type { DeviceSnapshot, PartitionCheckpoint } from './snapshot_store.js';
export { readClusterStatus, type ClusterStatusReport } from './cluster_status.js';
export { publishInput } from './input_stream.js';
export { partitionOf } from './partition_of.js';
export { assignPartitions, rendezvousOwner } from './rendezvous.js';
export { clusterNames, deviceSubject, INPUT_KINDS, partitionSubject, subjectMappings } from './subjects.js';
export { connectNats } from './nats_connection.js';
export { AnnounceMarkers } from './announce_markers.js';
