import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface LoggedMessage {
  topic: string;
  text: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
  at: number;
}

/** A real MQTT client that records everything it receives, for assertions. */
export class MqttLog {
  readonly messages: LoggedMessage[] = [];
  private waiters: { pred: (m: LoggedMessage) => boolean; resolve: (m: LoggedMessage) => void }[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m: LoggedMessage = { topic, payload, text: payload.toString('utf8'), retain: packet.retain, qos: packet.qos, at: Date.now() };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(url: string, topics: string[], options: IClientOptions = {}): Promise<MqttLog> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, ...options });
    const log = new MqttLog(client);
    if (topics.length) await client.subscribeAsync(topics, { qos: 1 });
    return log;
  }

  on(topic: string): LoggedMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** The first message (already received or future) matching `pred`, or a timeout error naming `what`. */
  waitFor(pred: (m: LoggedMessage) => boolean, what: string, timeoutMs = 10_000): Promise<LoggedMessage> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got topics: ${[...new Set(this.messages.map((m) => m.topic))].join(', ')}`));
      }, timeoutMs);
      const done = (m: LoggedMessage): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** A new message on `topic` (received after now). */
  next(topic: string, what = topic, timeoutMs = 10_000): Promise<LoggedMessage> {
    const after = this.messages.length;
    return this.waitFor((m) => m.topic === topic && this.messages.indexOf(m) >= after, what, timeoutMs);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `cond()` holds or fail after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Poll until `cond()` holds while the system is still making progress: fail when `progress()`
 * (e.g. the messages received so far) has not changed for `stallMs`, or after `maxMs` in all. On a
 * loaded machine a catch-up can take long, but a lost message shows as a stall.
 */
export async function untilStalled(cond: () => boolean, progress: () => number, what: string, opts: { stallMs?: number; maxMs?: number } = {}): Promise<void> {
  const stallMs = opts.stallMs ?? 15_000;
  const maxMs = opts.maxMs ?? 300_000;
  const start = Date.now();
  let last = progress();
  let lastChange = start;
  while (!cond()) {
    const now = Date.now();
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = now;
    }
    if (now - lastChange > stallMs) throw new Error(`no progress for ${stallMs} ms (after ${now - start} ms) waiting for ${what}`);
    if (now - start > maxMs) throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
