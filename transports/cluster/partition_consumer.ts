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
  /**
   * With no message and no server heartbeat for this long (and no message being handled), the
   * consumer is recreated from the last handled message. Default 6000 (six idle heartbeats).
   */
  stallMs?: number;
}

/** Pull settings: short pulls and 1 s idle heartbeats (see `open`). */
const PULL = { max_messages: 256, expires: 5000, idle_heartbeat: 1000 } as const;

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
  /** performance.now() of the last message or server idle heartbeat. */
  private lastActivity = performance.now();
  /** performance.now() of the last message, and of the last server idle heartbeat. */
  private lastMessageAt = performance.now();
  private lastHeartbeatAt = -Infinity;
  private delivering = false;
  /** performance.now() of the watchdog's last check (a late check means this process was blocked). */
  private lastCheckAt = performance.now();
  private watchdog: NodeJS.Timeout | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: PartitionConsumerOptions,
  ) {
    this.lastSeq = opts.fromSeq - 1;
  }

  static async start(nc: NatsConnection, opts: PartitionConsumerOptions): Promise<PartitionConsumer> {
    const c = new PartitionConsumer(nc, opts);
    try {
      c.messages = await c.open();
    } catch (e) {
      throw clusterError(`cannot consume partition ${opts.partition} of ${opts.streamName}`, e);
    }
    c.loop = c.run();
    const stallMs = opts.stallMs ?? 6000;
    const everyMs = Math.min(1000, stallMs);
    c.watchdog = setInterval(() => c.checkStall(stallMs, everyMs), everyMs);
    c.watchdog.unref();
    return c;
  }

  /** An ordered consumer of the partition's subjects from the message after the last one handled. */
  private async open(): Promise<ConsumerMessages> {
    const o = this.opts;
    const consumer = await jetstream(this.nc).consumers.get(o.streamName, {
      filter_subjects: partitionFilter(o.subjectPrefix, o.partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, this.lastSeq + 1),
    });
    // Short pulls and heartbeats: after a NATS node or stream leader change the client notices a
    // dead consumer within ~2 s (two missed heartbeats) and recreates it from the last delivered
    // sequence; the 30 s defaults left partitions stalled for most of a minute.
    const messages = await consumer.consume(PULL);
    this.lastActivity = performance.now();
    void (async () => {
      for await (const s of messages.status()) {
        // Only the server's idle heartbeats say it is alive: the client's own notices (missed
        // heartbeats, its pull requests, resets) go on while the server is gone.
        if (s.type === 'heartbeat') this.lastActivity = this.lastHeartbeatAt = performance.now();
        else if (s.type !== 'next' && s.type !== 'debug') o.logger.debug({ partition: o.partition, status: s.type }, 'partition consumer status');
      }
    })().catch(() => undefined);
    return messages;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const messages = this.messages!;
      try {
        for await (const m of messages) {
          if (this.stopped) break;
          this.lastActivity = this.lastMessageAt = performance.now();
          await this.exclusive(() => this.deliver(m));
        }
      } catch (e) {
        this.opts.logger.warn({ partition: this.opts.partition, err: (e as Error).message }, 'partition consumer ended with an error');
      }
      if (this.stopped) break;
      // The client gave up on this consumer (or the watchdog stopped it): a new one continues after
      // the last handled message, so nothing is skipped or delivered twice.
      const next = await this.reopen();
      if (!next) break;
      this.messages = next;
    }
  }

  /** Open a new consumer, retrying once a second while NATS refuses; null when stopped meanwhile. */
  private async reopen(): Promise<ConsumerMessages | null> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const m = await this.open();
        if (this.stopped) {
          await m.close().catch(() => undefined);
          return null;
        }
        this.opts.logger.warn({ partition: this.opts.partition, fromSeq: this.lastSeq + 1, attempt }, 'partition consumer recreated');
        return m;
      } catch (e) {
        if (attempt === 1 || attempt % 10 === 0) this.opts.logger.warn({ partition: this.opts.partition, attempt, err: (e as Error).message }, 'partition consumer cannot be recreated yet');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    return null;
  }

  /**
   * Whether the server said just now that it has nothing more for this consumer: an idle heartbeat
   * (sent only while a pull waits with no message to deliver) after the last message, within
   * `withinMs`. `pending` alone cannot say it: it is the count carried by the last message, and
   * stays 0 while the consumer is stalled or this process was frozen, however much the stream
   * stored meanwhile.
   */
  caughtUp(withinMs = 2.5 * PULL.idle_heartbeat): boolean {
    return this.pending === 0 && this.lastHeartbeatAt > this.lastMessageAt && performance.now() - this.lastHeartbeatAt <= withinMs;
  }

  /**
   * The client recreates an ordered consumer itself after missed heartbeats, but after a NATS node
   * restart one partition's consumer once stayed silent for good (no message, no heartbeat, the
   * client's own recovery waiting on a request that never came back). Silence longer than `stallMs`
   * while nothing is being handled means that: end this consumer, and `run` opens a new one.
   */
  private checkStall(stallMs: number, everyMs: number): void {
    const now = performance.now();
    const late = now - this.lastCheckAt > 2 * everyMs;
    this.lastCheckAt = now;
    // This process itself was blocked or frozen: whatever the server sent meanwhile is still unread
    // in the socket (timers run first on waking). Judge the consumer from now on, not from before.
    if (late) this.lastActivity = Math.max(this.lastActivity, now - everyMs);
    if (this.stopped || this.delivering || now - this.lastActivity < stallMs) return;
    this.lastActivity = performance.now();
    this.opts.logger.warn({ partition: this.opts.partition, lastSeq: this.lastSeq, silentMs: stallMs }, 'partition consumer silent: recreating it');
    this.messages?.stop();
  }

  private async deliver(m: JsMsg): Promise<void> {
    if (this.stopped) return;
    this.delivering = true;
    try {
      await this.deliverOne(m);
    } finally {
      this.delivering = false;
      this.lastActivity = performance.now();
    }
  }

  private async deliverOne(m: JsMsg): Promise<void> {
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
    if (this.watchdog) clearInterval(this.watchdog);
    try {
      await this.messages?.close();
    } catch {
      // the connection may be gone: nothing more will be delivered either way
    }
    await this.gate;
    await this.loop.catch(() => undefined);
  }
}
