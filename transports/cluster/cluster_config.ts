import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { EdgestreamError } from '../../runtime/errors.js';
import { checkGroupName, checkSubjectPrefix } from './subjects.js';

/**
 * Settings of one worker in a NATS JetStream group (`serve --cluster`, the `cluster` section of the
 * service configuration). Every worker of a group must use the same `group`, `subjectPrefix`,
 * `partitions` and TTLs; the first worker records them and the others are checked against them.
 */
export const ClusterConfigSchema = z
  .strictObject({
    /** NATS server URLs (`nats://host:4222`); a comma-separated string or a list. The client tries them all and reconnects forever. */
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Names the stream and KV buckets (`<group>-input`, `<group>-leases`, …). */
    group: z.string().default('edgestream'),
    /** Subject prefix of the inputs: the MQTT base topic with `/` → `.`. */
    subjectPrefix: z.string().default('edgestream'),
    /** Partitions; must equal the `partition(n,1)` of the server's subject mapping. */
    partitions: z.number().int().min(1).max(1024).default(16),
    /** This worker's id in the group. Default `<hostname>-<random>`; a fixed id gets the same partitions back after a restart. */
    memberId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
    /** NATS user / password / token (or put them in the URL). */
    user: z.string().optional(),
    pass: z.string().optional(),
    token: z.string().optional(),
    /** How long start-up waits for a server before failing (`E_CLUSTER`). */
    connectTimeoutMs: z.number().int().min(100).default(30_000),
    /** Heartbeat period of the member record. */
    heartbeatMs: z.number().int().min(50).default(1000),
    /** A member is gone when no heartbeat arrived for this long (and its record expires). */
    memberTtlMs: z.number().int().min(200).optional(),
    /**
     * A partition lease lives this long after its last renewal. Longer than a NATS stream leader
     * election (4–7 s measured with nats-server 2.9) so that owners keep their partitions through the
     * loss of one NATS node; a worker that dies is replaced this long after its last renewal.
     */
    leaseTtlMs: z.number().int().min(300).default(10_000),
    /** Renewal period of owned leases. Default leaseTtlMs / 5. */
    renewMs: z.number().int().min(20).optional(),
    /** Period of the assignment check (acquire free partitions this worker should own). */
    rebalanceMs: z.number().int().min(20).default(250),
    /** Period of each owned partition's checkpoint (device snapshots + replay position); 0 = only at hand-over. */
    checkpointMs: z.number().int().min(0).default(10_000),
    /** Replicas of the stream and buckets when this worker creates them: `auto` = min(3, servers in the cluster). */
    replicas: z.union([z.literal('auto'), z.literal(1), z.literal(3), z.literal(5)]).default('auto'),
    /** Input retention: must cover at least a checkpoint period plus the longest outage to replay. */
    inputMaxAgeMs: z.number().int().min(1000).default(3_600_000),
    /** Input retention in bytes (-1: unlimited, bounded by inputMaxAgeMs). */
    inputMaxBytes: z.number().int().min(-1).default(-1),
    /**
     * Audio a new owner runs again through a keyword stream it takes over (ms before the point its
     * snapshot was taken): the pipeline restarts there, so its state has converged again before
     * the audio the last owner may not have decided, and before the events just ahead of it that
     * suppress later ones (docs/cluster.md; `scripts/replay_convergence.mjs` measures it for a
     * model: for the shipped kws12 on the bundled sample 12 s is the shortest exact length at
     * threshold 0.1 and 6 s at its own 0.9; the default keeps 2 s above the first).
     */
    audioReplayMs: z.number().int().min(0).max(60_000).default(14_000),
  })
  .superRefine((c, ctx) => {
    const renew = c.renewMs ?? Math.floor(c.leaseTtlMs / 5);
    if (renew * 2 > c.leaseTtlMs) ctx.addIssue({ code: 'custom', path: ['renewMs'], message: `must be at most half of leaseTtlMs (${c.leaseTtlMs}), got ${renew}` });
    const memberTtl = c.memberTtlMs ?? c.leaseTtlMs;
    if (c.heartbeatMs * 2 > memberTtl) ctx.addIssue({ code: 'custom', path: ['heartbeatMs'], message: `must be at most half of memberTtlMs (${memberTtl}), got ${c.heartbeatMs}` });
  });

export type ClusterConfigInput = z.input<typeof ClusterConfigSchema>;

/** A validated configuration with every default filled in. */
export interface ClusterConfig {
  servers: string[];
  group: string;
  subjectPrefix: string;
  partitions: number;
  memberId: string;
  user?: string;
  pass?: string;
  token?: string;
  connectTimeoutMs: number;
  heartbeatMs: number;
  memberTtlMs: number;
  leaseTtlMs: number;
  renewMs: number;
  rebalanceMs: number;
  checkpointMs: number;
  replicas: 'auto' | 1 | 3 | 5;
  inputMaxAgeMs: number;
  inputMaxBytes: number;
  audioReplayMs: number;
}

/** A member id that is unique per process: `<hostname>-<6 hex>` (hostname reduced to id characters). */
export function defaultMemberId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 48) || 'worker';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/** Validate (`E_CONFIG` listing every problem) and fill in the defaults. */
export function parseClusterConfig(input: unknown, what = 'cluster configuration'): ClusterConfig {
  const r = ClusterConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new EdgestreamError('E_CONFIG', `${what} is not valid:\n  ${problems.join('\n  ')}`, { problems });
  }
  const c = r.data;
  checkGroupName(c.group);
  checkSubjectPrefix(c.subjectPrefix);
  const servers = (Array.isArray(c.servers) ? c.servers : c.servers.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  for (const s of servers) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) {
      throw new EdgestreamError('E_CONFIG', `${what}: servers must be nats://host:port URLs (or host:port), got "${s}"`);
    }
  }
  return {
    servers,
    group: c.group,
    subjectPrefix: c.subjectPrefix,
    partitions: c.partitions,
    memberId: c.memberId ?? defaultMemberId(),
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(c.pass !== undefined ? { pass: c.pass } : {}),
    ...(c.token !== undefined ? { token: c.token } : {}),
    connectTimeoutMs: c.connectTimeoutMs,
    heartbeatMs: c.heartbeatMs,
    memberTtlMs: c.memberTtlMs ?? c.leaseTtlMs,
    leaseTtlMs: c.leaseTtlMs,
    renewMs: c.renewMs ?? Math.floor(c.leaseTtlMs / 5),
    rebalanceMs: c.rebalanceMs,
    checkpointMs: c.checkpointMs,
    replicas: c.replicas,
    inputMaxAgeMs: c.inputMaxAgeMs,
    inputMaxBytes: c.inputMaxBytes,
    audioReplayMs: c.audioReplayMs,
  };
}
