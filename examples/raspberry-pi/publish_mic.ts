/**
 * The device side of keyword spotting on a Raspberry Pi: raw PCM from `arecord` on stdin,
 * published as 20 ms chunks to `<base>/<device>/audio` for `edgestream serve` (on the same Pi or
 * on another machine) to detect keywords in.
 *
 *   arecord -q -D plughw:1,0 -f S16_LE -r 16000 -c 1 -t raw \
 *     | npx tsx examples/raspberry-pi/publish_mic.ts --broker mqtt://localhost:1883 --device kitchen
 *
 * MQTT 5 brokers get each chunk's format, seq and stream timestamp as properties (the service
 * then notices lost chunks); with an MQTT 3.1.1 broker only the bytes go out, and the service uses
 * its configured format (s16le, 16 kHz, mono by default, or `devices.<id>.format`).
 * Credentials: EDGESTREAM_MQTT_USERNAME / EDGESTREAM_MQTT_PASSWORD.
 */
import { realpathSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { MqttAudioPublisher } from 'edgestream';

export interface PublishMicOptions {
  broker: string;
  device: string;
  baseTopic?: string;
  /** Sample rate of the PCM on stdin (arecord -r). Default 16000. */
  rate?: number;
  chunkMs?: number;
  username?: string;
  password?: string;
  /** Where the PCM comes from. Default process.stdin. */
  input?: Readable;
}

async function connect(o: PublishMicOptions): Promise<MqttClient> {
  const common = { clientId: `edgestream-mic-${o.device}`, ...(o.username && { username: o.username }), ...(o.password && { password: o.password }), reconnectPeriod: 1000 };
  try {
    return await mqtt.connectAsync(o.broker, { ...common, protocolVersion: 5 });
  } catch (e) {
    if (!/protocol version/i.test(String((e as Error).message))) throw e;
    return mqtt.connectAsync(o.broker, { ...common, protocolVersion: 4 });
  }
}

/** Publish stdin until it ends; resolves with the number of chunks sent. */
export async function publishMic(o: PublishMicOptions): Promise<number> {
  const client = await connect(o);
  const publisher = new MqttAudioPublisher(client, {
    baseTopic: o.baseTopic ?? 'edgestream',
    device: o.device,
    format: { encoding: 's16le', rate: o.rate ?? 16000, channels: 1 },
    chunkMs: o.chunkMs ?? 20,
  });
  // arecord paces the data in real time; chunks go out as soon as they are complete.
  for await (const data of o.input ?? process.stdin) publisher.push(data as Buffer);
  await publisher.end();
  await client.endAsync();
  return publisher.chunksSent;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isMain) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const device = arg('device') ?? 'pi';
  const broker = arg('broker') ?? 'mqtt://localhost:1883';
  const n = await publishMic({
    broker,
    device,
    ...(arg('base-topic') !== undefined && { baseTopic: arg('base-topic')! }),
    ...(arg('rate') !== undefined && { rate: Number(arg('rate')) }),
    ...(arg('chunk-ms') !== undefined && { chunkMs: Number(arg('chunk-ms')) }),
    ...(process.env.EDGESTREAM_MQTT_USERNAME && { username: process.env.EDGESTREAM_MQTT_USERNAME }),
    ...(process.env.EDGESTREAM_MQTT_PASSWORD && { password: process.env.EDGESTREAM_MQTT_PASSWORD }),
  });
  process.stderr.write(`publish_mic: ${n} chunks sent to ${broker} as ${device}\n`);
}
