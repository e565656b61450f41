import { EdgestreamError } from '../../runtime/errors.js';

/**
 * Every NATS name a worker group uses, derived from two settings: the group (names the JetStream
 * stream and KV buckets) and the subject prefix (the MQTT base topic with `/` → `.`).
 *
 * Inputs arrive on `<prefix>.<device>.<kind>` (MQTT `<base>/<device>/<kind>`), and nats-server's
 * subject mapping rewrites them to `<prefix>.part.<p>.<device>.<kind>`; the input stream captures
 * `<prefix>.part.*.*.*` and each partition's owner consumes `<prefix>.part.<p>.*.*`.
 */

/** A NATS subject token we accept in names: also valid as an MQTT topic level and a KV key token. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export interface ClusterNames {
  /** JetStream stream holding the inputs (audio, sensor messages) of every partition. */
  inputStream: string;
  /** KV bucket: one key per live worker, refreshed by its heartbeat, expiring after the member TTL. */
  membersBucket: string;
  /** KV bucket: one key per owned partition (`p.<n>`), renewed by its owner, expiring after the lease TTL. */
  leasesBucket: string;
  /** KV bucket: per-device session snapshots, per-partition checkpoints and the group record. */
  snapshotsBucket: string;
}

export function checkGroupName(group: string): void {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(group)) {
    throw new EdgestreamError('E_CONFIG', `cluster group must match [A-Za-z0-9_-]{1,32}, got "${group}"`);
  }
}

export function checkSubjectPrefix(prefix: string): void {
  const tokens = prefix.split('.');
  if (!tokens.every((t) => TOKEN.test(t))) {
    throw new EdgestreamError('E_CONFIG', `subject prefix must be dot-separated [A-Za-z0-9_-] tokens (no wildcards, no empty tokens), got "${prefix}"`);
  }
}

export function clusterNames(group: string): ClusterNames {
  checkGroupName(group);
  return {
    inputStream: `${group}-input`,
    membersBucket: `${group}-members`,
    leasesBucket: `${group}-leases`,
    snapshotsBucket: `${group}-snapshots`,
  };
}

/** `<prefix>.<device>.<kind>`: what an MQTT publish to `<base>/<device>/<kind>` becomes before mapping. */
export function deviceSubject(prefix: string, device: string, kind: string): string {
  return `${prefix}.${device}.${kind}`;
}

/** `<prefix>.part.<p>.<device>.<kind>`: a device input after the server's partition mapping. */
export function partitionSubject(prefix: string, partition: number, device: string, kind: string): string {
  return `${prefix}.part.${partition}.${device}.${kind}`;
}

/** The subjects the input stream captures. */
export function inputStreamSubjects(prefix: string): string[] {
  return [`${prefix}.part.*.*.*`];
}

/**
 * The filter of one partition's consumer. `*.*`, not `>`: nats-server 2.9 refuses a consumer filter
 * `….part.3.>` on a stream of `….part.*.*.*` ("not a valid subset of the interest subjects").
 */
export function partitionFilter(prefix: string, partition: number): string {
  return `${prefix}.part.${partition}.*.*`;
}

export interface ParsedInputSubject {
  partition: number;
  device: string;
  kind: string;
}

/** Split a mapped input subject; null for anything else. */
export function parseInputSubject(prefix: string, subject: string): ParsedInputSubject | null {
  const head = `${prefix}.part.`;
  if (!subject.startsWith(head)) return null;
  const rest = subject.slice(head.length).split('.');
  if (rest.length !== 3) return null;
  const [p, device, kind] = rest as [string, string, string];
  if (!/^\d+$/.test(p) || !TOKEN.test(device) || !TOKEN.test(kind)) return null;
  return { partition: Number(p), device, kind };
}

/**
 * The nats-server `mappings` block entries that spread `<prefix>.<device>.<kind>` over `partitions`
 * (deploy/nats/edgestream-mappings.conf holds the default; tests generate theirs with this).
 */
export function subjectMappings(prefix: string, partitions: number, kinds: readonly string[] = INPUT_KINDS): Record<string, string> {
  const out: Record<string, string> = {};
  // A two-level kind (`threshold/set`) keeps its first level as the kind token: inputs have one.
  for (const kind of kinds) out[`${prefix}.*.${kind.split('/').join('.')}`] = `${prefix}.part.{{partition(${partitions},1)}}.{{wildcard(1)}}.${kind.split('/')[0]}`;
  return out;
}

/**
 * Every device input a worker consumes from the stream, as MQTT topic levels after the device:
 * audio, sensor samples and the commands (which change the state a snapshot carries, so they are
 * replayed in order with the audio). `threshold/set` arrives as kind `threshold`.
 */
export const INPUT_KINDS = ['audio', 'sensor', 'set', 'threshold/set'] as const;
