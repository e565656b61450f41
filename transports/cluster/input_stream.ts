import type { NatsConnection } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type PubAck, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { clusterError } from './buckets.js';
import { deviceSubject, inputStreamSubjects } from './subjects.js';

export interface InputStreamSpec {
  name: string;
  subjectPrefix: string;
  replicas: number;
  maxAgeMs: number;
  maxBytes: number;
}

/**
 * Create the input stream (file storage, limits retention) if it does not exist. An existing
 * stream is left as the operator configured it; differences are logged.
 */
export async function ensureInputStream(nc: NatsConnection, spec: InputStreamSpec, logger: Logger): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const subjects = inputStreamSubjects(spec.subjectPrefix);
  try {
    const info = await jsm.streams.info(spec.name);
    if (!subjects.every((s) => info.config.subjects?.includes(s))) {
      logger.warn({ stream: spec.name, subjects: info.config.subjects, expected: subjects }, 'input stream does not capture the expected subjects');
    }
    return info;
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw clusterError(`cannot read stream ${spec.name}`, e);
  }
  try {
    return await jsm.streams.add({
      name: spec.name,
      subjects,
      num_replicas: spec.replicas,
      max_age: spec.maxAgeMs * 1_000_000,
      max_bytes: spec.maxBytes,
      storage: 'file' as never,
      retention: 'limits' as never,
      discard: 'old' as never,
      description: 'edgestream device inputs by partition (replayed after a hand-over)',
    });
  } catch (e) {
    if (/overlap/i.test((e as Error).message)) {
      throw clusterError(`cannot create stream ${spec.name}: another stream already captures ${subjects.join(', ')} (each group needs its own subjectPrefix)`, e);
    }
    throw clusterError(`cannot create stream ${spec.name} (${spec.replicas} replica(s))`, e);
  }
}

/**
 * Publish one device input through JetStream and wait for the stream's acknowledgement: the way
 * for NATS-side producers (MQTT publishes are not acknowledged by the stream, see docs/cluster.md). It goes
 * to `<prefix>.<device>.<kind>`, which the server's mapping puts on the device's partition.
 */
export async function publishInput(
  nc: NatsConnection,
  subjectPrefix: string,
  device: string,
  kind: string,
  payload: Uint8Array,
  headers?: Record<string, string>,
  opts: { timeoutMs?: number; msgId?: string } = {},
): Promise<PubAck> {
  const js = jetstream(nc);
  const h = headers ? natsHeaders() : undefined;
  if (h && headers) for (const [k, v] of Object.entries(headers)) h.set(k, v);
  return js.publish(deviceSubject(subjectPrefix, device, kind), payload, {
    ...(h ? { headers: h } : {}),
    ...(opts.msgId !== undefined ? { msgID: opts.msgId } : {}),
    timeout: opts.timeoutMs ?? 5000,
  });
}
