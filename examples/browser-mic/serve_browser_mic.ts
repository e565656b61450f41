/**
 * Browser microphones as keyword-spotting devices: the stream service with its WebRTC plugin,
 * an in-process MQTT broker unless you give one, and the detections printed as they are
 * published. Open the printed link in a browser (on this machine, or through an SSH tunnel:
 * browsers lend the microphone to https:// and localhost pages only), allow the microphone, speak.
 *
 *   npx tsx examples/browser-mic/serve_browser_mic.ts [--broker mqtt://host:1883] [--port 8099] [--token …] [--model kws.safetensors]
 *   mosquitto_sub -t 'edgestream/+/keyword'     # the same detections, for anything else on the LAN
 */
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import {
  createService, startEmbeddedBroker, webrtcPlugin,
  type DeviceKeywordEvent, type EdgestreamService, type EmbeddedBroker, type Model, type WebRtcPlugin,
} from 'edgestream';

export interface BrowserMic {
  service: EdgestreamService;
  plugin: WebRtcPlugin;
  /** The page, with the token in its fragment. */
  pageUrl: string;
  broker: string;
  stop(): Promise<void>;
}

export async function startBrowserMic(options: { broker?: string; port?: number; token?: string; model?: Model; modelPath?: string } = {}): Promise<BrowserMic> {
  let embedded: EmbeddedBroker | null = null;
  const broker = options.broker ?? (embedded = await startEmbeddedBroker()).url;
  const token = options.token ?? randomBytes(18).toString('base64url');
  const plugin = webrtcPlugin({ token });
  const service = createService(
    {
      mqtt: { url: broker },
      http: { host: '127.0.0.1', port: options.port ?? 8099 },
      ...(options.modelPath && { model: { path: options.modelPath } }),
    },
    { plugins: [plugin], ...(options.model && { model: options.model }) },
  );
  await service.start();
  return {
    service,
    plugin,
    pageUrl: `http://127.0.0.1:${service.httpPort}/webrtc/#token=${token}`,
    broker,
    stop: async () => {
      await service.stop();
      await embedded?.close();
    },
  };
}

const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const mic = await startBrowserMic({
    ...(arg('broker') && { broker: arg('broker') }),
    ...(arg('port') && { port: Number(arg('port')) }),
    ...(arg('token') && { token: arg('token') }),
    ...(arg('model') && { modelPath: arg('model') }),
  });
  // What any MQTT subscriber on the network sees (Home Assistant, Node-RED, …).
  const sub = await mqtt.connectAsync(mic.broker);
  await sub.subscribeAsync('edgestream/+/keyword');
  sub.on('message', (topic, payload) => {
    const e = JSON.parse(payload.toString()) as DeviceKeywordEvent;
    process.stdout.write(`${topic}: ${e.label} ${e.score.toFixed(2)}\n`);
  });
  const stop = async (): Promise<void> => {
    await sub.endAsync();
    await mic.stop();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.stdout.write(`open ${mic.pageUrl}\n`); // once Ctrl-C stops it cleanly
}
