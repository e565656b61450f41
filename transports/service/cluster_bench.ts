import { cpus, loadavg } from 'node:os';
import { EdgestreamError } from '../../runtime/errors.js';
import { NatsCluster, NATS_SERVER_MISSING } from '../cluster/nats_server_process.js';
import { subjectMappings } from '../cluster/subjects.js';
import { cpuSeconds, runMqttLoadBench, type MqttLoadBenchOptions, type MqttLoadBenchResult } from './mqtt_load_bench.js';

/**
 * The cluster path against a single service, in one run on one machine: a nats-server (the
 * shipped single-node configuration, on loopback) is the MQTT broker of both. In alternating
 * rounds, N devices stream in real time (MQTT 3.1.1, 20 ms chunks) to
 *  - `single`: one `edgestream serve` subscribed to their topics on nats-server's MQTT listener;
 *  - `cluster`: one `edgestream serve --cluster` worker owning every partition, which reads the
 *    same MQTT publishes from the JetStream input stream they are stored in;
 * both publishing their events over MQTT. Each round measures the latency beyond the model's delay
 * (publish of the chunk completing the audio → event received), losses, and the service's CPU:
 * devices per core = devices × seconds ÷ CPU seconds (MQTT in, fbank, model, decisions, MQTT out;
 * for the cluster path also the stream consumer, checkpoints and leases).
 */
export interface ClusterBenchOptions extends Omit<MqttLoadBenchOptions, 'brokerUrl' | 'protocolVersion' | 'baseTopic'> {
  /** Alternating single/cluster rounds. */
  rounds: number;
}

export interface ClusterBenchRound {
  mode: 'single' | 'cluster';
  round: number;
  result: MqttLoadBenchResult;
  /** Real-time devices one core holds at this round's CPU cost. */
  devicesPerCore: number | null;
  /** CPU seconds of nats-server during the round (MQTT listener; for the cluster also JetStream storage and delivery). */
  natsCpuSeconds: number | null;
}

export interface ClusterBenchResult {
  devices: number;
  seconds: number;
  rounds: ClusterBenchRound[];
  machine: { cpus: number; model: string; node: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  /** Medians over the rounds of each mode. */
  median: Record<'single' | 'cluster', { latencyP50Ms: number | null; latencyP99Ms: number | null; steadyP50Ms: number | null; devicesPerCore: number | null; cpuSeconds: number | null; natsCpuSeconds: number | null; lost: number; dropped: number }>;
  /** Median cluster p50 − median single p50 (steady state, ms). */
  addedLatencyP50Ms: number | null;
}

function median(values: (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length / 2;
  return Math.round((v.length % 2 ? v[Math.floor(m)]! : (v[m - 1]! + v[m]!) / 2) * 10) / 10;
}

export async function runClusterBench(o: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const log = o.progress ?? (() => undefined);
  const loadBefore = loadavg();
  const prefixes = Array.from({ length: o.rounds }, (_, r) => `benchc${process.pid}r${r}`);
  const mappings = `mappings {\n${prefixes.flatMap((p) => Object.entries(subjectMappings(p, 16)).map(([k, v]) => `  "${k}": "${v}"\n`)).join('')}}\n`;
  const nats = await NatsCluster.start(1, { mappings });
  if (!nats) throw new EdgestreamError('E_USAGE', NATS_SERVER_MISSING);
  const rounds: ClusterBenchRound[] = [];
  try {
    const node = nats.nodes[0]!;
    log(`nats-server ${nats.urls[0]} (MQTT ${node.mqttUrl})`);
    for (let r = 0; r < o.rounds; r++) {
      for (const mode of ['single', 'cluster'] as const) {
        log(`round ${r + 1}/${o.rounds}: ${mode}`);
        // Each cluster round has its own group and stream: nothing restored from an earlier round.
        const base = mode === 'cluster' ? prefixes[r]! : `benchs${process.pid}r${r}`;
        const natsBefore = node.pid !== null ? await cpuSeconds(node.pid) : null;
        const result = await runMqttLoadBench({
          ...o,
          brokerUrl: node.mqttUrl,
          protocolVersion: 4,
          baseTopic: base,
          service: {
            ...o.service,
            ...(mode === 'cluster' && { cluster: { servers: nats.urls, group: base, subjectPrefix: base, partitions: 16, memberId: `${base}-w1`, replicas: 1 } }),
          },
        });
        const devicesPerCore = result.serviceCpuSeconds ? Math.round(((o.devices * o.seconds) / result.serviceCpuSeconds) * 10) / 10 : null;
        const natsAfter = node.pid !== null ? await cpuSeconds(node.pid) : null;
        const natsCpuSeconds = natsBefore !== null && natsAfter !== null ? Math.round((natsAfter - natsBefore) * 10) / 10 : null;
        rounds.push({ mode, round: r, result, devicesPerCore, natsCpuSeconds });
      }
    }
  } finally {
    await nats.close();
  }
  const of = (mode: 'single' | 'cluster'): ClusterBenchResult['median']['single'] => {
    const rs = rounds.filter((x) => x.mode === mode);
    return {
      latencyP50Ms: median(rs.map((x) => x.result.latencyMs?.p50)),
      latencyP99Ms: median(rs.map((x) => x.result.latencyMs?.p99)),
      steadyP50Ms: median(rs.map((x) => x.result.steadyLatencyMs?.p50)),
      devicesPerCore: median(rs.map((x) => x.devicesPerCore)),
      cpuSeconds: median(rs.map((x) => x.result.serviceCpuSeconds)),
      natsCpuSeconds: median(rs.map((x) => x.natsCpuSeconds)),
      lost: rs.reduce((n, x) => n + x.result.chunks.lost, 0),
      dropped: rs.reduce((n, x) => n + x.result.chunks.dropped, 0),
    };
  };
  const single = of('single');
  const cluster = of('cluster');
  return {
    devices: o.devices,
    seconds: o.seconds,
    rounds,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadAverageBefore: loadBefore.map((x) => Math.round(x * 10) / 10), loadAverageAfter: loadavg().map((x) => Math.round(x * 10) / 10) },
    median: { single, cluster },
    addedLatencyP50Ms: single.steadyP50Ms !== null && cluster.steadyP50Ms !== null ? Math.round((cluster.steadyP50Ms - single.steadyP50Ms) * 10) / 10 : null,
  };
}
