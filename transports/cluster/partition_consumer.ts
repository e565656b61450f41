import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { clusterError } from './buckets.js';
import { parseInputSubject, partitionFilter } from './subjects.js';

/** One device input as the owner of its partition receives it. */
export interface InputMessage {
  partition: number;
  /** Stream sequence: totally ordered within the stream, the replay position. */
  seq: number;
  device: string;
  /** Last subject token: `audio`, `sensor`, … */
  kind: string;
  subject: string;
  data: Uint8Array;
  /** NATS headers (MQTT publishes carry only `Nmqtt-Pub`: the MQTT QoS). */
  headers: Record<string, string>;
  /** When the stream stored it (server clock, ms since the epoch). */
  storedAt: number;
  /** True while replaying what was already in the stream when the partition was acquired. */
  replay: boolean;
}

export interface PartitionConsumerOptions {
  streamName: string;
  subjectPrefix: string;
  partition: number;
  /** First stream sequence to deliver. */
  fromSeq: number;
  /** Messages up to this sequence are marked `replay`. */
  replayUntil: number;
  /** Inputs of these devices up to the given sequence are already in their restored state: skipped. */
  skipUpTo: ReadonlyMap<string, number>;
  /** Skip-up-to for devices not in `skipUpTo` (the checkpoint's position). */
  skipOthersUpTo: number;
  handle: (m: InputMessage) => void | Promise<void>;
  logger: Logger;
}

/**
 * Delivers one partition's inputs in stream order, one at a time, from a given sequence: an
 * ordered consumer (ephemeral, recreated by the client from the last delivered sequence after a
 * server or leader change), so nothing is acknowledged and the position lives in our checkpoints.
 * `exclusive(fn)` runs `fn` between two messages (checkpoints).
 */
export class PartitionConsumer {
  /** Sequence of the last message handled (or skipped); fromSeq − 1 before the first. */
  lastSeq: number;
  /** Messages the server still holds for this consumer after the last one delivered (replay lag). */
  pending = 0;
  handled = 0;
  skipped = 0;
  failures = 0;
  private messages: ConsumerMessages | null = null;
  private gate: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly opts: PartitionConsumerOptions) {
    this.lastSeq = opts.fromSeq - 1;
  }

  static async start(nc: NatsConnection, opts: PartitionConsumerOptions): Promise<PartitionConsumer> {
    const c = new PartitionConsumer(opts);
    try {
      const consumer = await jetstream(nc).consumers.get(opts.streamName, {
        filter_subjects: partitionFilter(opts.subjectPrefix, opts.partition),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, opts.fromSeq),
      });
      // Short pulls and heartbeats: after a NATS node or stream leader change the client notices a
      // dead consumer within ~2 s (two missed heartbeats) and recreates it from the last delivered
      // sequence; the 30 s defaults left partitions stalled for most of a minute.
      c.messages = await consumer.consume({ max_messages: 256, expires: 5000, idle_heartbeat: 1000 });
    } catch (e) {
      throw clusterError(`cannot consume partition ${opts.partition} of ${opts.streamName}`, e);
    }
    c.loop = c.run();
    return c;
  }

  private async run(): Promise<void> {
    for await (const m of this.messages!) {
      if (this.stopped) break;
      await this.exclusive(() => this.deliver(m));
    }
  }

  private async deliver(m: JsMsg): Promise<void> {
    if (this.stopped) return;
    const o = this.opts;
    this.pending = m.info.pending;
    const parsed = parseInputSubject(o.subjectPrefix, m.subject);
    this.lastSeq = m.seq;
    if (!parsed || parsed.partition !== o.partition) {
      o.logger.warn({ subject: m.subject, partition: o.partition }, 'input on an unexpected subject skipped');
      this.skipped++;
      return;
    }
    if (m.seq <= (o.skipUpTo.get(parsed.device) ?? o.skipOthersUpTo)) {
      this.skipped++;
      return;
    }
    const headers: Record<string, string> = {};
    if (m.headers) for (const k of m.headers.keys()) headers[k] = m.headers.get(k);
    try {
      await o.handle({
        partition: o.partition,
        seq: m.seq,
        device: parsed.device,
        kind: parsed.kind,
        subject: m.subject,
        data: m.data,
        headers,
        storedAt: Math.floor(Number(m.info.timestampNanos) / 1e6),
        replay: m.seq <= o.replayUntil,
      });
      this.handled++;
    } catch (e) {
      // One bad message must not stop the partition: count it, log it, go on.
      this.failures++;
      o.logger.warn({ partition: o.partition, device: parsed.device, seq: m.seq, err: (e as Error).message }, 'input handler failed');
    }
  }

  /** Run `fn` when no message is being handled; no message is delivered until it settles. */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.gate.then(fn, fn);
    this.gate = run.catch(() => undefined);
    return run;
  }

  /** Stop delivering; resolves once the message in progress (if any) is handled. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.messages?.close();
    } catch {
      // the connection may be gone: nothing more will be delivered either way
    }
    await this.gate;
    await this.loop.catch(() => undefined);
  }
}
