import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import mqtt, { type MqttClient } from 'mqtt';
import { firstValueFrom, from, toArray } from 'rxjs';
import { readWavSamples } from '../../runtime/audio/wav_samples.js';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { clusterNames } from '../../transports/cluster/index.js';
import { freePort } from '../../transports/cluster/nats_server_process.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import type { HealthSnapshot } from '../../transports/service/health.js';
import { DEMO_MODEL } from '../../transports/service/package_paths.js';
import { CLI, ROOT } from './paths.js';
import { sleep, until } from './mqtt_log.js';

/**
 * Fast cluster timings for tests: a dead worker's partitions are free 3 s after its last renewal
 * (renewed every 500 ms: a worker starved of CPU for 2.5 s on this shared machine keeps them).
 */
export const SERVE_FAST = { leaseTtlMs: 3000, heartbeatMs: 250, renewMs: 500, rebalanceMs: 100, checkpointMs: 500, connectTimeoutMs: 10_000 } as const;
/**
 * The keyword model of the cluster tests' workers and of their single-process reference: the shipped
 * default (kws12). The assertions compare the two runs, so any model fits; on the bundled sample at
 * threshold 0.1 it decides 3–8 events per device in 10–15 s (the tests count on several).
 */
export const KEYWORD_MODEL = DEMO_MODEL;
/** The decision settings of the cluster tests' workers (threshold 0.1: several events per device on the sample). */
export const DECISION = parseServiceConfig({ decision: { threshold: 0.1 } }).decision;
export const SAMPLE_WAV = join(ROOT, 'models/lmuformer/demo/sample.wav');

export interface ServeWorker {
  id: string;
  proc: ChildProcess;
  httpPort: number;
  stderr: () => string;
  exited: Promise<number | null>;
  health: () => Promise<HealthSnapshot>;
}

export interface WorkerOptions {
  dir: string;
  base: string;
  memberId: string;
  natsUrls: string[];
  mqttUrl: string;
  /** Sensor (TTT) model file, if the workers run one. */
  sensorModel?: string;
  /** Merged into the configuration's top level. */
  extra?: Record<string, unknown>;
  /** Merged into the cluster settings (after SERVE_FAST). */
  cluster?: Record<string, unknown>;
}

/** `edgestream serve` as a cluster worker in its own process (config file in `dir`); SIGKILLed after the file if still running. */
export async function serveWorker(o: WorkerOptions): Promise<ServeWorker> {
  const httpPort = await freePort();
  const config = {
    baseTopic: o.base,
    model: { path: KEYWORD_MODEL, backend: 'wasm' },
    mqtt: { url: o.mqttUrl, reconnectMs: 300 },
    http: { host: '127.0.0.1', port: httpPort },
    // Load shedding off: a worker past capacity (this shared 2-core machine, a worker replaying)
    // would restart shed streams, whose decisions then differ; shedding has its own test
    // (service_overload). What these tests check is continuity.
    audio: { idleMs: 1500, bufferChunks: 1000, shedAboveLatencyMs: 0 },
    decision: { threshold: 0.1 },
    health: { intervalMs: 0 },
    ...(o.sensorModel !== undefined && { sensor: { model: { path: o.sensorModel, backend: 'wasm' } } }),
    cluster: { servers: o.natsUrls, group: o.base, memberId: o.memberId, ...SERVE_FAST, ...o.cluster },
    ...o.extra,
  };
  const file = join(o.dir, `${o.memberId}.json`);
  writeFileSync(file, JSON.stringify(config));
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGESTREAM_LOG: 'info', EDGESTREAM_LOG_PRETTY: '0' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  await until(() => /edgestream: serving/.test(err) || proc.exitCode !== null, `worker ${o.memberId} serving`, 60_000);
  if (proc.exitCode !== null) throw new Error(`worker ${o.memberId} exited: ${err.slice(-2000)}`);
  return {
    id: o.memberId,
    proc,
    httpPort,
    stderr: () => err,
    exited,
    health: async () => (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as HealthSnapshot,
  };
}

/** The bundled sample as s16le 16 kHz PCM, rotated to start `offsetMs` in, looped to at least `seconds`. */
export function samplePcm(offsetMs = 0, seconds = 0): Buffer {
  const w = readWavSamples(SAMPLE_WAV);
  const off = Math.round((offsetMs / 1000) * w.rate) % w.samples.length;
  const n = Math.max(w.samples.length, Math.ceil(seconds * w.rate));
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const v = w.samples[(i + off) % w.samples.length]!;
    pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), i * 2);
  }
  return pcm;
}

/** What a single process decides on the same chunks (the pipeline `serve` runs): `label@start-end`, in order. */
export async function offlineEvents(model: Model, pcm: Uint8Array, chunkBytes: number, seconds: number): Promise<string[]> {
  const chunks: AudioChunk[] = [];
  const n = Math.round((seconds * 32000) / chunkBytes); // whole chunks (seconds may be ticks / 10)
  for (let i = 0; i < n; i++) chunks.push({ device: 'd', kind: 'chunk', data: pcm.subarray(i * chunkBytes, (i + 1) * chunkBytes), format: { encoding: 's16le', rate: 16000, channels: 1 }, timestampMs: (i * chunkBytes) / 32 });
  const out = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION, warmupMs: 1000 }), toArray()));
  return out.flatMap((o) => (o.type === 'keyword' ? [eventKey(o.event)] : []));
}

export function eventKey(e: Pick<DeviceKeywordEvent, 'label' | 'start_ms' | 'end_ms'>): string {
  return `${e.label}@${e.start_ms}-${e.end_ms}`;
}

export interface SimulatedDevice {
  id: string;
  pcm: Uint8Array;
}

/**
 * Devices streaming in real time over MQTT 3.1.1 (nats-server's listener), `chunkMs` chunks at
 * QoS 0 on `<base>/<device>/audio`, 25 devices per connection; plus sensor devices sending one
 * JSON sample `{seq, values}` per tick. Runs for `seconds`, or until `stopAt(k)` says so before
 * tick k; resolves with the number of ticks sent. `onTick(k)` runs before tick k.
 */
export async function streamDevices(url: string, base: string, devices: SimulatedDevice[], seconds: number, opts: { chunkMs?: number; sensors?: { id: string; values: ArrayLike<number> }[]; onTick?: (k: number) => void | Promise<void>; stopAt?: (k: number) => boolean } = {}): Promise<number> {
  const chunkMs = opts.chunkMs ?? 100;
  const bytes = (chunkMs / 1000) * 32000;
  const clients: MqttClient[] = [];
  for (let i = 0; i < Math.max(1, Math.ceil(devices.length / 25)); i++) clients.push(await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 500 }));
  try {
    const ticks = Math.floor((seconds * 1000) / chunkMs);
    const t0 = Date.now();
    for (let k = 0; k < ticks; k++) {
      await opts.onTick?.(k);
      if (opts.stopAt?.(k)) return k;
      const wait = t0 + k * chunkMs - Date.now();
      if (wait > 0) await sleep(wait);
      devices.forEach((d, i) => clients[Math.floor(i / 25)]!.publish(`${base}/${d.id}/audio`, Buffer.from(d.pcm.subarray(k * bytes, (k + 1) * bytes)), { qos: 0 }));
      for (const s of opts.sensors ?? []) if (k < s.values.length) clients[0]!.publish(`${base}/${s.id}/sensor`, JSON.stringify({ seq: k, values: [s.values[k]] }), { qos: 0 });
    }
    return ticks;
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}

export interface LeaseEvent {
  partition: number;
  op: 'PUT' | 'DEL' | 'PURGE';
  owner: string | null;
  instance: string | null;
  /** Server time of the write (ms since the epoch). */
  at: number;
}

/**
 * Every write to the group's lease bucket (which the first worker creates), as the server stored
 * it (created time): who owned each partition when, from the current leases on.
 */
export async function watchLeases(servers: string[], group: string): Promise<{ events: LeaseEvent[]; nc: NatsConnection }> {
  const nc = await connect({ servers });
  after(() => nc.close());
  const kv = await new Kvm(nc).open(clusterNames(group).leasesBucket);
  const events: LeaseEvent[] = [];
  const w = await kv.watch();
  void (async () => {
    for await (const e of w) {
      const rec = e.operation === 'PUT' ? (e.json<{ owner: string; instance: string }>()) : null;
      events.push({ partition: Number(e.key.split('.')[1]), op: e.operation, owner: rec?.owner ?? null, instance: rec?.instance ?? null, at: e.created.getTime() });
    }
  })();
  after(() => w.stop());
  return { events, nc };
}

/** Owner intervals per partition from lease writes: [owner, from, to] where `to` is the delete or the last renewal + TTL. */
export function ownership(events: LeaseEvent[], ttlMs: number): Map<number, { owner: string; from: number; to: number; ended: 'released' | 'expired' | 'open' }[]> {
  const out = new Map<number, { owner: string; from: number; to: number; ended: 'released' | 'expired' | 'open' }[]>();
  for (const e of events) {
    const list = out.get(e.partition) ?? [];
    out.set(e.partition, list);
    const cur = list.at(-1);
    if (e.op === 'PUT') {
      if (cur && cur.ended === 'open' && cur.owner === e.owner) {
        cur.to = e.at;
        continue;
      }
      if (cur && cur.ended === 'open') {
        cur.to += ttlMs; // superseded without a delete: the last renewal expired first
        cur.ended = 'expired';
      }
      list.push({ owner: e.owner!, from: e.at, to: e.at, ended: 'open' });
    } else if (cur && cur.ended === 'open') {
      cur.to = e.at;
      cur.ended = 'released';
    }
  }
  return out;
}

/**
 * What the waits for outputs count as progress: messages received, plus the chunks and sensor
 * messages the running workers have taken in (a worker replaying a partition publishes nothing
 * for a while, but takes in inputs). Polled from /healthz every 500 ms until `stop()`.
 */
export function workProgress(log: { messages: unknown[] }, workers: () => ServeWorker[]): { value: () => number; stop: () => void } {
  let taken = 0;
  const timer = setInterval(() => {
    const alive = workers().filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
    void Promise.all(alive.map((w) => w.health().catch(() => null))).then((hs) => {
      taken = hs.reduce((n, h) => n + (h ? h.chunks_received + Object.values(h.devices).reduce((m, d) => m + d.chunks, 0) + (h.cluster?.partitions.reduce((m, p) => m + p.last_seq, 0) ?? 0) : 0), 0);
    });
  }, 500);
  after(() => clearInterval(timer));
  return { value: () => log.messages.length + taken, stop: () => clearInterval(timer) };
}
