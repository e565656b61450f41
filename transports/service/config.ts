import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DecisionOptionsSchema } from '../../runtime/decisions/options.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { DEVICE_ID, checkBaseTopic } from '../mqtt/topics.js';
import { WebRtcConfigSchema } from '../webrtc/plugin.js';
import { ClusterConfigSchema } from '../cluster/cluster_config.js';
import { DEFAULT_WARMUP_MS } from '../../runtime/decisions/keyword_stream.js';

/**
 * The service configuration (`edgestream serve --config file.yaml`, `createService(config)`).
 * Every field is optional; the defaults run the shipped demo model against a broker on
 * localhost. Secrets can stay out of the file: see `applyEnvironment`. docs/service.md, "Configuration"
 * documents every field with its default.
 */

const PcmFormatSchema = z.strictObject({
  /** Sample layout: signed 16-bit or float32, little-endian. */
  encoding: z.enum(['s16le', 'f32le']).default('s16le'),
  /** Samples per second. */
  rate: z.number().int().min(8000).max(192000).default(16000),
  /** Interleaved channels; the first is used. */
  channels: z.number().int().min(1).max(8).default(1),
});

const DeviceSchema = z.strictObject({
  /** Friendly name for Home Assistant. Default: the device id. */
  name: z.string().min(1).max(100).optional(),
  /** Suggested Home Assistant area. */
  area: z.string().min(1).max(100).optional(),
  /** PCM format of this device's audio when its messages carry no MQTT 5 properties. */
  format: PcmFormatSchema.optional(),
  /** Detection threshold for every label of this device (overrides `decision.threshold`). */
  threshold: z.number().min(0).max(1).optional(),
  /** Per-label thresholds for this device. */
  thresholds: z.record(z.string(), z.number().min(0).max(1)).optional(),
  /** Listening when the service starts. Default true. */
  listening: z.boolean().default(true),
  /** Sensor payload encoding when messages carry no content type. */
  sensorEncoding: z.enum(['auto', 'json', 'f32le']).optional(),
});

const ModelSchema = z.strictObject({
  /** Model file (.safetensors). Relative paths are relative to the config file. Default: the shipped demo model. */
  path: z.string().min(1).optional(),
  /** Where the arithmetic runs. */
  backend: z.enum(['auto', 'js', 'wasm', 'wasm-relaxed', 'onnx']).default('auto'),
  /** int8 weights (per-row scales) on the kernel tiers: a cheaper step at a small accuracy cost (docs/kernels.md). */
  int8: z.boolean().default(false),
  /** `model` field of events (default: the model file's name). */
  name: z.string().min(1).optional(),
  /** `model_version` field of events (default: the model file's version). */
  version: z.string().min(1).optional(),
});

export const ServiceConfigSchema = z.strictObject({
  /** Topic prefix, unique per instance. */
  baseTopic: z.string().default('edgestream'),
  /** The keyword model for `<base>/<device>/audio`. */
  model: ModelSchema.prefault({}),
  mqtt: z
    .strictObject({
      /** Broker URL: mqtt://, mqtts://, ws://, wss://. Env EDGESTREAM_MQTT_URL. */
      url: z.string().min(1).default('mqtt://localhost:1883'),
      /** Unique per instance. Default `edgestream-<baseTopic>-<random>`. */
      clientId: z.string().min(1).max(128).optional(),
      /** Env EDGESTREAM_MQTT_USERNAME. */
      username: z.string().optional(),
      /** Prefer the environment: EDGESTREAM_MQTT_PASSWORD or EDGESTREAM_MQTT_PASSWORD_FILE. */
      password: z.string().optional(),
      /** A file holding the password (systemd credentials, Docker secrets). */
      passwordFile: z.string().optional(),
      /** 5, 4 (= 3.1.1) or auto (5, falling back to 3.1.1). */
      protocolVersion: z.union([z.literal(5), z.literal(4), z.literal('auto')]).default('auto'),
      /** Seconds. */
      keepalive: z.number().int().min(5).max(3600).default(30),
      /** Base reconnect delay (ms); each outage uses a random 0.5–1.5× of it. */
      reconnectMs: z.number().int().min(100).max(300_000).default(2000),
      /** How long `start()` waits for the first connection (ms). */
      connectTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
      tls: z
        .strictObject({
          /** PEM file of the CA that signed the broker's certificate. */
          ca: z.string().optional(),
          /** Client certificate and key (PEM files) for mutual TLS. */
          cert: z.string().optional(),
          key: z.string().optional(),
          rejectUnauthorized: z.boolean().default(true),
          servername: z.string().optional(),
        })
        .optional(),
      /** MQTT 5 maximum packet size we accept (the broker drops larger packets for us); larger payloads are rejected on 3.1.1 too. */
      maxPacketBytes: z.number().int().min(1024).max(268_435_455).default(262_144),
    })
    .prefault({}),
  audio: z
    .strictObject({
      /** Keyword spotting on `<base>/<device>/audio` (false: a sensor-only service, no keyword model loaded). */
      enabled: z.boolean().default(true),
      /** Format of audio messages without MQTT 5 properties (MQTT 3.1.1, microcontrollers). */
      format: PcmFormatSchema.prefault({}),
      /** Longest chunk accepted (ms of audio). */
      maxChunkMs: z.number().int().min(10).max(10_000).default(1000),
      /** Chunks queued per device before the oldest are dropped (and counted). */
      bufferChunks: z.number().int().min(1).max(10_000).default(100),
      /** A device without audio for this long goes `offline` and its stream state is freed (ms). */
      idleMs: z.number().int().min(100).max(86_400_000).default(30_000),
      /** After a device's stream starts, or restarts after lost audio (seq gap, timestamp jump, dropped chunk): no detections for this long (ms). */
      warmupMs: z.number().int().min(0).max(60_000).default(DEFAULT_WARMUP_MS),
      /**
       * Past capacity when chunks wait longer than this (p90, arrival → processed) while the event loop
       * is busy: the most recently started devices are no longer served (their chunks are dropped on
       * arrival and counted) until the rest are back in time (ms; 0 never sheds).
       */
      shedAboveLatencyMs: z.number().int().min(0).max(600_000).default(1000),
    })
    .prefault({}),
  engine: z
    .strictObject({
      /** Step every device's model as one batch on a shared Engine (worker threads) instead of per device in the service's thread. */
      enabled: z.boolean().default(false),
      /** Inference worker threads (0 = in the service's thread, in short slices). */
      workers: z.number().int().min(0).max(64).default(1),
      /** Most streams in one batched step. */
      maxBatch: z.number().int().min(1).max(4096).default(64),
    })
    .prefault({}),
  /** How scores become events (thresholds, smoothing, hysteresis, refractory period, windowing). */
  decision: DecisionOptionsSchema.prefault({}),
  scores: z
    .strictObject({
      /** Publish `<base>/<device>/scores`. */
      enabled: z.boolean().default(false),
      /** At most one message per device per interval (ms). */
      intervalMs: z.number().int().min(20).max(60_000).default(250),
      /** Labels per message. */
      topK: z.number().int().min(1).max(100).default(5),
    })
    .prefault({}),
  sensor: z
    .strictObject({
      /** A stream model (e.g. a TTT forecaster) for `<base>/<device>/sensor`; no sensor topics without it. */
      model: ModelSchema.optional(),
      /** Payload encoding when messages carry no content type. */
      encoding: z.enum(['auto', 'json', 'f32le']).default('auto'),
      /** Sensor streams idle this long end (state freed), ms. */
      idleMs: z.number().int().min(100).max(86_400_000).default(300_000),
      /** Frames queued per device before the oldest are dropped. */
      bufferFrames: z.number().int().min(1).max(100_000).default(1000),
      /**
       * Per-device stream state (e.g. TTT fast weights) saved to files in `dir` every `intervalMs`,
       * when a stream ends and on shutdown, and restored when the device's stream starts again (also
       * after a restart or a crash, which then loses at most `intervalMs` of learning).
       */
      snapshots: z
        .strictObject({
          /** Directory of the snapshot files (created if missing); relative to the config file. */
          dir: z.string().min(1),
          /** Period of the snapshots (ms). */
          intervalMs: z.number().int().min(100).max(86_400_000).default(60_000),
        })
        .optional(),
    })
    .prefault({}),
  /** Per-device settings by device id. Devices not listed are accepted with the defaults. */
  devices: z.record(z.string().regex(DEVICE_ID, 'device ids are [A-Za-z0-9_-]{1,64}'), DeviceSchema).default({}),
  /** Devices served at once; messages from further devices are rejected (and counted). */
  maxDevices: z.number().int().min(1).max(100_000).default(1000),
  homeassistant: z
    .strictObject({
      /** Publish MQTT discovery messages. */
      enabled: z.boolean().default(true),
      discoveryPrefix: z.string().min(1).default('homeassistant'),
      /** Discovery is re-published when this topic says `online` (HA restarted). */
      statusTopic: z.string().min(1).default('homeassistant/status'),
    })
    .prefault({}),
  hermes: z
    .strictObject({
      /** Also publish `hermes/hotword/<keyword>/detected` (Rhasspy/Snips Hermes, siteId = device). */
      enabled: z.boolean().default(false),
    })
    .prefault({}),
  http: z
    .strictObject({
      /** Serve /healthz and /metrics (and plugin routes). */
      enabled: z.boolean().default(true),
      /** 0.0.0.0 to let Prometheus scrape from another host. */
      host: z.string().default('127.0.0.1'),
      /** 0 picks a free port. */
      port: z.number().int().min(0).max(65535).default(8099),
    })
    .prefault({}),
  health: z
    .strictObject({
      /** Period of `<base>/bridge/health` messages (ms); 0 disables them. */
      intervalMs: z.number().int().min(0).max(86_400_000).default(60_000),
      /** /healthz reports unhealthy when the event loop lags more than this (ms). */
      maxEventLoopLagMs: z.number().int().min(1).default(1000),
    })
    .prefault({}),
  /** Browser microphones over WebRTC (docs/webrtc.md, "WebRTC"); the token may come from EDGESTREAM_WEBRTC_TOKEN. */
  webrtc: WebRtcConfigSchema.optional(),
  /**
   * Run as one worker of a NATS JetStream group (docs/cluster.md): device inputs come from the
   * group's stream, partitions owned one worker at a time; outputs still go to `mqtt.url`.
   * `subjectPrefix` defaults to the base topic with `/` → `.`.
   */
  cluster: ClusterConfigSchema.optional(),
});

export type ServiceConfigInput = z.input<typeof ServiceConfigSchema>;
export type ServiceConfig = z.output<typeof ServiceConfigSchema>;
export type DeviceConfig = z.output<typeof DeviceSchema>;

/** Validate a configuration object; `E_CONFIG` lists every problem with its path. */
export function parseServiceConfig(input: unknown, what = 'configuration'): ServiceConfig {
  const r = ServiceConfigSchema.safeParse(withClusterPrefix(input ?? {}));
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new EdgestreamError('E_CONFIG', `${what} is not valid:\n  ${problems.join('\n  ')}`, { problems });
  }
  checkBaseTopic(r.data.baseTopic);
  if (r.data.mqtt.password !== undefined && r.data.mqtt.passwordFile !== undefined) {
    throw new EdgestreamError('E_CONFIG', `${what}: give mqtt.password or mqtt.passwordFile, not both`);
  }
  return r.data;
}

/** The cluster's subject prefix follows the base topic unless set (MQTT `a/b` is NATS `a.b`). */
function withClusterPrefix(input: unknown): unknown {
  if (input === null || typeof input !== 'object') return input;
  const raw = input as Record<string, unknown>;
  const cluster = raw.cluster;
  if (cluster === null || typeof cluster !== 'object' || Array.isArray(cluster) || 'subjectPrefix' in cluster) return input;
  const base = typeof raw.baseTopic === 'string' ? raw.baseTopic : 'edgestream';
  return { ...raw, cluster: { ...cluster, subjectPrefix: base.split('/').join('.') } };
}

/**
 * Secrets and deployment specifics from the environment (they win over the file):
 * EDGESTREAM_MQTT_URL, EDGESTREAM_MQTT_USERNAME, EDGESTREAM_MQTT_PASSWORD,
 * EDGESTREAM_MQTT_PASSWORD_FILE, EDGESTREAM_BASE_TOPIC, EDGESTREAM_HTTP_PORT.
 */
export function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const mqtt: Record<string, unknown> = { ...((raw.mqtt as Record<string, unknown> | undefined) ?? {}) };
  if (env.EDGESTREAM_MQTT_URL) mqtt.url = env.EDGESTREAM_MQTT_URL;
  if (env.EDGESTREAM_MQTT_USERNAME) mqtt.username = env.EDGESTREAM_MQTT_USERNAME;
  if (env.EDGESTREAM_MQTT_PASSWORD) {
    mqtt.password = env.EDGESTREAM_MQTT_PASSWORD;
    delete mqtt.passwordFile;
  }
  if (env.EDGESTREAM_MQTT_PASSWORD_FILE) {
    mqtt.passwordFile = env.EDGESTREAM_MQTT_PASSWORD_FILE;
    delete mqtt.password;
  }
  if (Object.keys(mqtt).length > 0) out.mqtt = mqtt;
  if (env.EDGESTREAM_BASE_TOPIC) out.baseTopic = env.EDGESTREAM_BASE_TOPIC;
  if (env.EDGESTREAM_HTTP_PORT) {
    const port = Number(env.EDGESTREAM_HTTP_PORT);
    out.http = { ...((raw.http as Record<string, unknown> | undefined) ?? {}), port: Number.isInteger(port) ? port : env.EDGESTREAM_HTTP_PORT };
  }
  return out;
}

/** Make the file paths of a config relative to the directory of the config file. */
function resolvePaths(raw: Record<string, unknown>, dir: string): Record<string, unknown> {
  const rel = (p: unknown): unknown => (typeof p === 'string' && !isAbsolute(p) ? resolve(dir, p) : p);
  const out = { ...raw };
  const model = out.model as Record<string, unknown> | undefined;
  if (model && typeof model === 'object') out.model = { ...model, path: rel(model.path) };
  const sensor = out.sensor as Record<string, unknown> | undefined;
  const sensorModel = sensor?.model as Record<string, unknown> | undefined;
  if (sensor && sensorModel && typeof sensorModel === 'object') out.sensor = { ...sensor, model: { ...sensorModel, path: rel(sensorModel.path) } };
  const snapshots = (out.sensor as Record<string, unknown> | undefined)?.snapshots as Record<string, unknown> | undefined;
  if (snapshots && typeof snapshots === 'object') out.sensor = { ...(out.sensor as Record<string, unknown>), snapshots: { ...snapshots, dir: rel(snapshots.dir) } };
  const mqtt = out.mqtt as Record<string, unknown> | undefined;
  if (mqtt && typeof mqtt === 'object') {
    const m: Record<string, unknown> = { ...mqtt, passwordFile: rel(mqtt.passwordFile) };
    const tls = mqtt.tls as Record<string, unknown> | undefined;
    if (tls && typeof tls === 'object') m.tls = { ...tls, ca: rel(tls.ca), cert: rel(tls.cert), key: rel(tls.key) };
    for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
    out.mqtt = m;
  }
  return out;
}

/** Read a YAML or JSON config file (JSON is YAML), apply the environment, validate. */
export function loadServiceConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  let raw: Record<string, unknown> = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new EdgestreamError('E_CONFIG', `cannot read the config file ${path}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text, { prettyErrors: true, maxAliasCount: 100 });
    } catch (e) {
      throw new EdgestreamError('E_CONFIG', `${path} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw new EdgestreamError('E_CONFIG', `${path}: the top level must be a mapping of settings`);
    }
    raw = resolvePaths((doc ?? {}) as Record<string, unknown>, dirname(resolve(path)));
  }
  return parseServiceConfig(applyEnvironment(raw, env), path ?? 'configuration');
}
