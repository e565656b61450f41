import type { Command } from 'commander';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeS16le, readWavSamples } from '../../runtime/audio/wav_samples.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { log } from '../../runtime/log.js';
import type { DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { MqttAudioPublisher } from '../../transports/mqtt/audio_publisher.js';
import { redact } from '../../transports/mqtt/connection.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import { DEMO_SAMPLE } from '../../transports/service/package_paths.js';
import { createService } from '../../transports/service/service.js';
import { BACKEND_HELP, parseBackend, parseNumber } from '../options.js';
import { runUntilSignal } from './serve.js';

interface DemoOptions {
  broker?: string;
  model?: string;
  backend?: string;
  audio: string;
  device: string;
  speed: string;
  keepServing?: boolean;
  json?: boolean;
  httpPort?: string;
  baseTopic: string;
}

/** A WAV file as 16-bit PCM bytes at its own rate (what a microphone device would send). */
function wavAsS16le(path: string): { bytes: Uint8Array; rate: number; seconds: number } {
  const { samples, rate } = readWavSamples(path);
  return { bytes: encodeS16le(samples), rate, seconds: samples.length / rate };
}

/** Connect a client with MQTT 5, or 3.1.1 if the broker refuses 5 (aedes speaks 3.1.1). */
async function connectClient(url: string, clientId: string): Promise<MqttClient> {
  try {
    return await mqtt.connectAsync(url, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
  } catch (e) {
    if (!/protocol version/i.test(String((e as Error).message))) throw new EdgestreamError('E_MQTT', `cannot connect to ${redact(url)}: ${(e as Error).message}`);
    return mqtt.connectAsync(url, { clientId, protocolVersion: 4, reconnectPeriod: 0 });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `npm start`: the whole path on one machine with nothing installed: an in-process broker (or
 * `--broker`), the service with the shipped model, a simulated device streaming the bundled spoken
 * sample in real time as 20 ms MQTT chunks, and a subscriber printing each detection as published.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the service on an embedded MQTT broker, stream the bundled spoken sample through it as a device would, print the detections (npm start)')
    .option('--broker <url>', 'use this MQTT broker instead of the embedded one')
    .option('--model <file>', 'keyword model (default: the shipped demo model)')
    .option('--backend <name>', BACKEND_HELP, 'auto')
    .option('--audio <wav>', 'audio to stream', DEMO_SAMPLE)
    .option('--device <id>', 'device id of the simulated microphone', 'demo')
    .option('--base-topic <topic>', 'MQTT base topic', 'edgestream')
    .option('--speed <x>', 'stream at x times real time', '1')
    .option('--keep-serving', 'keep the service running after the sample (Ctrl-C stops)')
    .option('--json', 'print each detection as its JSON payload')
    .option('--http-port <port>', 'serve /healthz and /metrics on this port')
    .action(async (opts: DemoOptions) => {
      // The demo's own output is the point: service logs only for warnings unless EDGESTREAM_LOG asks for more.
      if (process.env.EDGESTREAM_LOG === undefined) log.level = 'warn';
      const speed = parseNumber(opts.speed, '--speed');
      if (!(speed > 0 && speed <= 100)) throw new EdgestreamError('E_USAGE', `--speed must be in (0, 100], got ${opts.speed}`);
      const audio = wavAsS16le(opts.audio);
      const out = (line: string): boolean => process.stdout.write(`${line}\n`);
      let broker: EmbeddedBroker | null = null;
      if (!opts.broker) broker = await startEmbeddedBroker();
      const url = opts.broker ?? broker!.url;
      const config = parseServiceConfig({
        baseTopic: opts.baseTopic,
        mqtt: { url },
        model: { backend: parseBackend(opts.backend ?? 'auto'), ...(opts.model && { path: opts.model }) },
        // The simulated device sends raw PCM at the WAV's rate; MQTT 3.1.1 brokers need it in the config.
        devices: { [opts.device]: { name: 'Demo microphone', format: { encoding: 's16le', rate: audio.rate, channels: 1 } } },
        http: opts.httpPort !== undefined ? { port: parseNumber(opts.httpPort, '--http-port') } : { enabled: false },
        health: { intervalMs: 10_000 },
      });
      const service = createService(config);
      let sub: MqttClient | null = null;
      let dev: MqttClient | null = null;
      try {
        await service.start();
        out(`edgestream demo: ${broker ? `embedded broker ${url}` : `broker ${redact(url)}`} (MQTT ${service.protocolVersion === 5 ? '5' : '3.1.1'}), model ${service.model.name}`);
        // A subscriber, as Home Assistant or any automation would be.
        sub = await connectClient(url, `edgestream-demo-sub-${process.pid}`);
        const sentAt: number[] = []; // wall time of each chunk publish
        let detections = 0;
        sub.on('message', (_topic, payload) => {
          let e: DeviceKeywordEvent;
          try {
            e = JSON.parse(payload.toString('utf8')) as DeviceKeywordEvent;
          } catch {
            return;
          }
          detections++;
          if (opts.json) {
            out(payload.toString('utf8'));
            return;
          }
          // Latency: from publishing the chunk that completed the deciding audio (+ model delay) to now.
          const lastNeededMs = e.end_ms + service.model.delay * (service.model.frontend?.frameShiftMs ?? 10);
          const chunkIndex = Math.min(sentAt.length - 1, Math.floor(lastNeededMs / 20));
          const latency = chunkIndex >= 0 ? `${Date.now() - sentAt[chunkIndex]!} ms after the audio was sent` : '';
          out(`  [${(e.end_ms / 1000).toFixed(2).padStart(6)} s] ${e.device}: "${e.label}"  score ${e.score.toFixed(2)}  ${latency}`);
        });
        await sub.subscribeAsync(`${opts.baseTopic}/+/keyword`, { qos: 1 });
        // The device: 20 ms chunks of the sample, paced in real time.
        dev = await connectClient(url, `edgestream-demo-${opts.device}-${process.pid}`);
        const publisher = new MqttAudioPublisher(dev, { baseTopic: opts.baseTopic, device: opts.device, format: { encoding: 's16le', rate: audio.rate, channels: 1 }, chunkMs: 20 });
        out(`streaming ${opts.audio} (${audio.seconds.toFixed(1)} s at ${audio.rate} Hz) as device "${opts.device}" on ${opts.baseTopic}/${opts.device}/audio, 20 ms chunks${speed !== 1 ? `, ${speed}× real time` : ''}:`);
        const t0 = Date.now();
        for (let o = 0, i = 0; o < audio.bytes.length; o += publisher.chunkBytes, i++) {
          const due = t0 + (i * 20) / speed;
          const wait = due - Date.now();
          if (wait > 0) await sleep(wait);
          publisher.push(audio.bytes.subarray(o, o + publisher.chunkBytes));
          sentAt.push(Date.now());
        }
        await publisher.end();
        await sleep(1500); // the model's delay, the last decisions and their publication
        out(`${detections} detection${detections === 1 ? '' : 's'}.`);
        if (opts.keepServing) {
          out(`still serving on ${redact(url)} (publish audio to ${opts.baseTopic}/<device>/audio); Ctrl-C stops.`);
          await runUntilSignal(service);
        }
      } finally {
        await dev?.endAsync().catch(() => undefined);
        await sub?.endAsync().catch(() => undefined);
        await service.stop();
        await broker?.close();
      }
    });
}
