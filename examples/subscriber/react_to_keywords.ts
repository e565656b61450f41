/**
 * A home-automation style subscriber: reacts to what edgestream publishes, with nothing but an
 * MQTT client. Keyword events toggle a light (publishes `home/<device>/light/set` ON/OFF), with
 * QoS 1 duplicates dropped by the event `id`; forecasts on the prediction topic raise an alarm when
 * they leave a band. Use a persistent session (clean: false) so events published while this
 * subscriber was away are delivered when it returns.
 *
 *   npx tsx examples/subscriber/react_to_keywords.ts --broker mqtt://localhost:1883
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';

export interface Reactions {
  /** Commands sent, in order (`topic payload`). */
  actions: string[];
  /** Events handled (duplicates excluded). */
  handled: number;
  duplicates: number;
  client: MqttClient;
  stop(): Promise<void>;
}

export async function reactToKeywords(options: { broker: string; baseTopic?: string; clientId?: string; alarmAbove?: number }): Promise<Reactions> {
  const base = options.baseTopic ?? 'edgestream';
  const client = await mqtt.connectAsync(options.broker, { clientId: options.clientId ?? 'edgestream-example-subscriber', clean: false, protocolVersion: 4 });
  const seen = new Set<string>(); // event ids (bounded below)
  const r: Reactions = { actions: [], handled: 0, duplicates: 0, client, stop: () => client.endAsync() };
  const act = (topic: string, payload: string): void => {
    r.actions.push(`${topic} ${payload}`);
    void client.publishAsync(topic, payload, { qos: 1 });
  };
  client.on('message', (topic, payload) => {
    const [, device, kind] = topic.split('/');
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      return; // not ours
    }
    if (kind === 'keyword') {
      const id = String(msg.id);
      if (seen.has(id)) {
        r.duplicates++;
        return;
      }
      seen.add(id);
      if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
      r.handled++;
      if (msg.event_type === 'on' || msg.event_type === 'off') act(`home/${device}/light/set`, String(msg.event_type).toUpperCase());
    } else if (kind === 'prediction') {
      const v = (msg.values as number[] | undefined)?.[0];
      if (typeof v === 'number' && v > (options.alarmAbove ?? 2)) act(`home/${device}/alarm`, `forecast ${v.toFixed(3)} above ${options.alarmAbove ?? 2}`);
    }
  });
  await client.subscribeAsync([`${base}/+/keyword`, `${base}/+/prediction`], { qos: 1 });
  return r;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isMain) {
  const i = process.argv.indexOf('--broker');
  const r = await reactToKeywords({ broker: i >= 0 ? process.argv[i + 1]! : 'mqtt://localhost:1883' });
  process.stderr.write('listening for keywords and predictions; Ctrl-C stops\n');
  setInterval(() => {
    for (const a of r.actions.splice(0)) process.stdout.write(`${a}\n`);
  }, 200);
  process.once('SIGINT', () => void r.stop().then(() => process.exit(0)));
}
