import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EdgestreamError } from '../../runtime/errors.js';
import type { DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { MqttAudioPublisher } from '../mqtt/audio_publisher.js';
import { freePort, Mosquitto, MOSQUITTO_MISSING } from '../mqtt/mosquitto_process.js';
import type { HealthSnapshot } from './health.js';

/**
 * The MQTT load benchmark: N simulated devices each publish 20 ms chunks (`chunkMs`) in real time for D
 * seconds to a broker (mosquitto on loopback by default), `edgestream serve` runs as its own
 * process (what a deployment runs), and a subscriber measures, for every detection, the time from
 * publishing the chunk that completed the audio the decision needed (the deciding frame plus the
 * model's look-ahead) to receiving the event: the latency beyond the model's own delay. Chunk
 * counts come from the service's /healthz (sent vs received, drops, seq gaps).
 */
export interface MqttLoadBenchOptions {
  devices: number;
  seconds: number;
  /** Model file the service runs. */
  modelPath: string;
  /** Model look-ahead (frames) and frame hop (ms), for the latency anchor. */
  modelDelayFrames: number;
  frameShiftMs: number;
  /** PCM (s16le, 16 kHz mono) each device streams, looped, from a different offset per device. */
  audio: Uint8Array;
  /** Extra service config (decision thresholds, engine). */
  service: Record<string, unknown>;
  /** Use this broker instead of starting mosquitto. */
  brokerUrl?: string;
  /** The built CLI (dist/cli/main.js). */
  cli: string;
  tmpDir: string;
  progress?: (line: string) => void;
  /** Sample the service's /healthz (and the latency of the events since the last sample) this often, into `timeline` (ms). */
  sampleEveryMs?: number;
  /** MQTT version of the devices and the subscriber (4 = 3.1.1: no properties; nats-server's listener needs it). Default 5. */
  protocolVersion?: 4 | 5;
  /** Base topic (default `bench<pid>`). */
  baseTopic?: string;
  /** Audio per published chunk, ms (default 20). Much of a device's cost in the service is per chunk. */
  chunkMs?: number;
}

/** One sample of a long run (`sampleEveryMs`): the service's memory and counts, and event latency in the window. */
export interface TimelineSample {
  t_s: number;
  rss_bytes: number;
  heap_used_bytes: number;
  chunks_received: number;
  chunks_dropped: number;
  chunks_shed: number;
  seq_gaps: number;
  audio_lost_ms: number;
  events: number;
  event_loop_lag_ms: number;
  /** Latency (beyond the model delay) of the events received in this window. */
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
}

export interface LatencyStats { p50: number; p90: number; p99: number; max: number; samples: number }

/** Events after this much streaming count as steady state (`steadyLatencyMs`). */
export const STEADY_AFTER_MS = 2000;

function latencyStats(values: number[]): LatencyStats | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  return { p50: r1(percentile(v, 0.5)), p90: r1(percentile(v, 0.9)), p99: r1(percentile(v, 0.99)), max: r1(v.at(-1)!), samples: v.length };
}

export interface MqttLoadBenchResult {
  devices: number;
  seconds: number;
  /** Audio per published chunk, ms. */
  chunkMs: number;
  broker: string;
  machine: { cpus: number; model: string; node: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  /** Chunks published / received by the service; dropped = chunks or frames the service dropped (queue full, engine behind). */
  chunks: { sent: number; received: number; dropped: number; seqGaps: number; rejected: number; lost: number; shed: number };
  /** Load shedding seen at the end of the run (the service's /healthz `overload`). */
  overload: HealthSnapshot['overload'] | null;
  events: number;
  /** Publish (of the chunk completing the needed audio) → event received, ms. */
  latencyMs: LatencyStats | null;
  /**
   * The same for events after the first `STEADY_AFTER_MS` of streaming: all devices appear in the
   * same instant at the start (the service builds 100 pipelines, publishes their discovery and
   * state, and V8 compiles the hot paths), which the whole-run figure includes.
   */
  steadyLatencyMs: LatencyStats | null;
  /** …and for the events in the first `STEADY_AFTER_MS` (the start-up the whole-run figure includes). */
  startLatencyMs: LatencyStats | null;
  /** How late the device simulator published vs its chunk schedule (its own load), ms. */
  publishLagMs: { p50: number; p99: number; max: number };
  /** From the service: chunk arrival → processed (queueing + front end + inference), ms, worst device. */
  serviceChunkLatencyMs: { p50: number; p99: number };
  serviceRssBytes: number;
  serviceCpuSeconds: number | null;
  /** With `sampleEveryMs`: the service over time. */
  timeline: TimelineSample[];
  /** CPU seconds of the device simulator (this process) and of the broker during the run. */
  simulatorCpuSeconds: number;
  brokerCpuSeconds: number | null;
  ok: boolean;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function fetchHealth(port: number): Promise<HealthSnapshot | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) });
    return (await r.json()) as HealthSnapshot;
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a process (Linux /proc). */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const { readFileSync } = await import('node:fs');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (100 Hz)
  } catch {
    return null;
  }
}

/** Child processes of runs in progress, killed if this process exits first (Ctrl-C, SIGTERM, a crash). */
const children = new Set<() => void>();
let exitHookInstalled = false;
function killChildrenOnExit(kill: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const k of children) k();
    });
  }
  children.add(kill);
  return () => children.delete(kill);
}

/** Kill every child process of runs in progress now (a signal handler calls this before exiting). */
export function killBenchChildren(): void {
  for (const k of children) k();
  children.clear();
}

/** A whole run never takes longer than its streaming time plus this (ms): then it fails and cleans up. */
const RUN_SLACK_MS = 120_000;

export async function runMqttLoadBench(o: MqttLoadBenchOptions): Promise<MqttLoadBenchResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EdgestreamError('E_MQTT', `bench-mqtt did not finish within ${o.seconds} s + ${RUN_SLACK_MS / 1000} s: the service, the broker or the simulator stopped making progress`)), o.seconds * 1000 + RUN_SLACK_MS);
  });
  const state: RunState = { stopped: false };
  try {
    return await Promise.race([run(o, state), deadline]);
  } finally {
    state.stopped = true;
    clearTimeout(timer);
  }
}

interface RunState {
  /** Set when the run gave up (deadline): loops stop. */
  stopped: boolean;
}

async function run(o: MqttLoadBenchOptions, state: RunState): Promise<MqttLoadBenchResult> {
  const log = o.progress ?? (() => undefined);
  const loadBefore = loadavg();
  let broker: Mosquitto | null = null;
  let url = o.brokerUrl;
  if (!url) {
    // set_tcp_nodelay: mosquitto leaves Nagle's algorithm on by default, which holds small messages
    // (chunks to the service, detections to subscribers) for the peer's delayed ACK: +15 ms at p50.
    broker = await Mosquitto.start('max_queued_messages 10000\nset_tcp_nodelay true');
    if (!broker) throw new EdgestreamError('E_USAGE', `${MOSQUITTO_MISSING}; or pass --broker mqtt://…`);
    url = broker.url;
  }
  const httpPort = await freePort();
  const base = o.baseTopic ?? `bench${process.pid}`;
  const protocolVersion = o.protocolVersion ?? 5;
  const configPath = join(o.tmpDir, 'bench-service.json');
  writeFileSync(configPath, JSON.stringify({
    baseTopic: base,
    model: { path: o.modelPath },
    mqtt: { url },
    http: { port: httpPort },
    health: { intervalMs: 0 },
    homeassistant: { enabled: false },
    audio: { idleMs: 60_000 },
    ...o.service,
  }));
  log(`broker ${url}; starting edgestream serve (${JSON.stringify(o.service)})`);
  // EDGESTREAM_BENCH_NODE_OPTIONS: node flags for the service process only (e.g. --cpu-prof).
  const nodeFlags = (process.env.EDGESTREAM_BENCH_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const service = spawn(process.execPath, [...nodeFlags, o.cli, 'serve', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGESTREAM_LOG: 'warn', EDGESTREAM_LOG_PRETTY: '0' } });
  const b = broker;
  const forget = killChildrenOnExit(() => {
    if (service.exitCode === null) service.kill('SIGKILL');
    b?.killNow();
  });
  let serviceErr = '';
  service.stderr!.on('data', (d: Buffer) => (serviceErr = (serviceErr + d.toString()).slice(-20_000)));
  const clients: MqttClient[] = [];
  try {
    for (let i = 0; ; i++) {
      const h = await fetchHealth(httpPort);
      // A cluster worker is ready once it owns every partition (it is the only one).
      if (h?.mqtt_connected && (!h.cluster || h.cluster.partitions_owned.length === (o.service.cluster as { partitions?: number } | undefined)?.partitions)) break;
      if (service.exitCode !== null) throw new EdgestreamError('E_MQTT', `edgestream serve exited (${service.exitCode}): ${serviceErr.slice(-2000)}`);
      if (i > 600) throw new EdgestreamError('E_MQTT', 'edgestream serve did not come up within 60 s');
      await sleep(100);
    }
    const cpuStart = await cpuSeconds(service.pid!);
    const brokerStart = broker?.pid ? await cpuSeconds(broker.pid) : null;
    const simStart = process.cpuUsage();

    // The subscriber: latency of every detection.
    const sub = await mqtt.connectAsync(url, { protocolVersion, clientId: `${base}-sub` });
    clients.push(sub);
    const latencies: number[] = [];
    const steadyLatencies: number[] = [];
    const startLatencies: number[] = [];
    let streamingSince = Infinity; // wall time (ms since the epoch) the devices started streaming
    let events = 0;
    const sentAt: Float64Array[] = [];
    const chunkMs = o.chunkMs ?? 20;
    // Publish times of the last minute of chunks per device (a ring: an hour of them would not fit).
    const slots = Math.min(Math.ceil((o.seconds * 1000) / chunkMs) + 10, 3000);
    for (let d = 0; d < o.devices; d++) sentAt.push(new Float64Array(slots));
    let windowLatencies: number[] = [];
    sub.on('message', (topic, payload) => {
      const now = performance.timeOrigin + performance.now();
      const device = Number(topic.split('/')[1]!.slice(1));
      let e: DeviceKeywordEvent;
      try {
        e = JSON.parse(payload.toString('utf8')) as DeviceKeywordEvent;
      } catch {
        return;
      }
      events++;
      const neededMs = e.end_ms + o.modelDelayFrames * o.frameShiftMs;
      const idx = Math.ceil(neededMs / chunkMs) - 1; // the chunk holding the last needed sample
      const t = sentAt[device]?.[idx % slots];
      if (t && now - t < (slots * chunkMs) / 2) {
        latencies.push(now - t);
        windowLatencies.push(now - t);
        (t - streamingSince >= STEADY_AFTER_MS ? steadyLatencies : startLatencies).push(now - t);
      }
    });
    await sub.subscribeAsync(`${base}/+/keyword`, { qos: 1 });

    // The devices: one connection each, chunks on one shared clock, phases spread over the tick.
    log(`connecting ${o.devices} devices`); // clients[1 + d] is device d
    const pubs: MqttAudioPublisher[] = [];
    for (let d = 0; d < o.devices; d++) {
      const c = await mqtt.connectAsync(url, { protocolVersion, clientId: `${base}-d${d}`, queueQoSZero: false });
      clients.push(c);
      pubs.push(new MqttAudioPublisher(c, { baseTopic: base, device: `d${d}`, chunkMs }));
    }
    const chunkBytes = pubs[0]!.chunkBytes;
    const audioChunks = Math.floor(o.audio.length / chunkBytes);
    // Warm the simulator's own publish path (a second of chunks per device to a topic nobody reads):
    // 100 real devices are 100 machines, and a cold simulator would add its own start-up to the
    // latency of the service's first detections.
    log('warming up the device simulator');
    const warmPubs = clients.slice(1).map((c, d) => new MqttAudioPublisher(c, { baseTopic: `${base}-warmup`, device: `d${d}`, chunkMs }));
    for (let k = 0; k < Math.ceil(1000 / chunkMs); k++) {
      for (let d = 0; d < o.devices; d++) {
        const offset = ((k + d * 37) % audioChunks) * chunkBytes;
        warmPubs[d]!.push(o.audio.subarray(offset, offset + chunkBytes));
      }
      await sleep(5);
    }
    await sleep(500);
    // Publish lags: a bounded uniform sample (reservoir) for long runs.
    const lags: number[] = [];
    let lagCount = 0;
    const recordLag = (v: number): void => {
      lagCount++;
      if (lags.length < 200_000) lags.push(v);
      else {
        const j = Math.floor(Math.random() * lagCount);
        if (j < lags.length) lags[j] = v;
      }
    };
    const timeline: TimelineSample[] = [];
    let nextSample = o.sampleEveryMs ?? Infinity;
    const sample = async (tS: number): Promise<void> => {
      const w = windowLatencies.sort((a, b) => a - b);
      windowLatencies = [];
      const h = await fetchHealth(httpPort);
      if (!h) return;
      timeline.push({
        t_s: Math.round(tS),
        rss_bytes: h.rss_bytes,
        heap_used_bytes: h.heap_used_bytes,
        chunks_received: h.chunks_received,
        chunks_dropped: h.chunks_dropped,
        chunks_shed: h.chunks_shed ?? 0,
        seq_gaps: h.seq_gaps,
        audio_lost_ms: h.audio_lost_ms ?? 0,
        events: h.keyword_events,
        event_loop_lag_ms: h.event_loop_lag_ms,
        latency_p50_ms: w.length ? r1(percentile(w, 0.5)) : null,
        latency_p99_ms: w.length ? r1(percentile(w, 0.99)) : null,
      });
    };
    const total = Math.floor((o.seconds * 1000) / chunkMs);
    log(`streaming ${o.devices} × ${chunkMs} ms chunks in real time for ${o.seconds} s`);
    // Devices are spread over the chunk tick in `groups` phases (as independent devices would be),
    // each group published in one go; the loop always yields so that the clients' sockets flush.
    const groups = Math.min(o.devices, 10);
    const t0 = performance.now() + 100;
    streamingSince = performance.timeOrigin + t0;
    let published = 0;
    for (let k = 0; k < total && !state.stopped; k++) {
      for (let g = 0; g < groups; g++) {
        const due = t0 + k * chunkMs + (g * chunkMs) / groups;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        else await new Promise((r) => setImmediate(r));
        for (let d = g; d < o.devices; d += groups) {
          recordLag(Math.max(0, performance.now() - due));
          const offset = ((k + d * 37) % audioChunks) * chunkBytes;
          pubs[d]!.push(o.audio.subarray(offset, offset + chunkBytes));
          sentAt[d]![k % slots] = performance.timeOrigin + performance.now();
          published++;
        }
      }
      if (k % Math.round(10_000 / chunkMs) === 0 && k > 0) log(`  ${(k * chunkMs) / 1000} s, ${events} detections so far`);
      if (k * chunkMs >= nextSample) {
        void sample((k * chunkMs) / 1000); // not awaited: the devices keep their schedule
        nextSample += o.sampleEveryMs!;
      }
    }
    await sleep(2000);
    if (o.sampleEveryMs !== undefined) await sample(o.seconds + 2);
    const cpuEnd = await cpuSeconds(service.pid!);
    const brokerEnd = broker?.pid ? await cpuSeconds(broker.pid) : null;
    const sim = process.cpuUsage(simStart);
    const health = await fetchHealth(httpPort);
    if (!health) throw new EdgestreamError('E_MQTT', 'the service did not answer /healthz after the run');
    let received = 0;
    let dropped = 0;
    let gaps = 0;
    let p50 = 0;
    let p99 = 0;
    for (const [id, d] of Object.entries(health.devices)) {
      if (!id.startsWith('d')) continue;
      received += d.chunks;
      dropped += d.drops;
      gaps += d.gaps;
      p50 = Math.max(p50, d.latency_ms_p50 ?? 0);
      p99 = Math.max(p99, d.latency_ms_p99 ?? 0);
    }
    lags.sort((a, b) => a - b);
    const lat = latencyStats(latencies);
    const result: MqttLoadBenchResult = {
      devices: o.devices,
      seconds: o.seconds,
      chunkMs,
      broker: broker ? 'mosquitto (loopback, started by the bench)' : url,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadAverageBefore: loadBefore.map(r1), loadAverageAfter: loadavg().map(r1) },
      chunks: { sent: published, received, dropped, seqGaps: gaps, rejected: health.messages_rejected, lost: published - received, shed: health.chunks_shed ?? 0 },
      overload: health.overload ?? null,
      events,
      latencyMs: lat,
      steadyLatencyMs: latencyStats(steadyLatencies),
      startLatencyMs: latencyStats(startLatencies),
      publishLagMs: { p50: r1(percentile(lags, 0.5)), p99: r1(percentile(lags, 0.99)), max: r1(lags.at(-1) ?? 0) },
      serviceChunkLatencyMs: { p50, p99 },
      serviceRssBytes: health.rss_bytes,
      serviceCpuSeconds: cpuStart !== null && cpuEnd !== null ? r1(cpuEnd - cpuStart) : null,
      timeline,
      simulatorCpuSeconds: r1((sim.user + sim.system) / 1e6),
      brokerCpuSeconds: brokerStart !== null && brokerEnd !== null ? r1(brokerEnd - brokerStart) : null,
      ok: published === received && dropped === 0 && gaps === 0 && lat !== null && lat.p99 <= 50,
    };
    return result;
  } finally {
    for (const c of clients) await Promise.race([c.endAsync(true).catch(() => undefined), sleep(1000)]);
    if (service.exitCode === null) {
      const exited = new Promise((r) => service.once('exit', r));
      service.kill('SIGTERM');
      // serve exits within 3 s of a SIGTERM; if it ever does not, it is killed.
      if ((await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) === false) {
        service.kill('SIGKILL');
        await exited;
      }
    }
    await broker?.close();
    forget();
  }
}

function r1(v: number): number {
  return Math.round(v * 10) / 10;
}
