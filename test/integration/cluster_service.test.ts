import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { MODEL_PATH as TTT_MODEL } from '../../examples/sensor-drift/run.js';
import { sensorSignal } from '../../examples/sensor-drift/signal.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import type { DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { assignPartitions, clusterNames, partitionOf, publishInput } from '../../transports/cluster/index.js';
import { decodeDeviceSnapshot } from '../../transports/cluster/snapshot_envelope.js';
import { decodeDeviceState } from '../../transports/service/cluster_device_state.js';
import { natsCluster, NATS_SERVER_MISSING } from '../helpers/cluster.js';
import { eventKey, KEYWORD_MODEL, offlineEvents, ownership, samplePcm, serveWorker, SERVE_FAST, streamDevices, watchLeases, workProgress, type LeaseEvent, type ServeWorker, type SimulatedDevice } from '../helpers/cluster_service.js';
import { MqttLog, sleep, untilStalled } from '../helpers/mqtt_log.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 14 phase 2: `edgestream serve --cluster` workers as real processes on a real 3-node
// nats-server cluster (deploy/nats configurations on loopback ports), devices streaming in real
// time over nats-server's MQTT listener, outputs read back over MQTT. Keyword devices stream the
// bundled sample (rotated per device) through the demo model; TTT sensor devices stream the
// sensor-drift signal through its TTT forecaster. Device counts are modest (this 2-core machine
// is shared): 40 devices where the issue names no number, 100 for the kill -9 test.

const cluster = await natsCluster(3, ['sticky', 'kill', 'scale', 'natsfail', 'frozen']);
const skip = cluster ? false : NATS_SERVER_MISSING;
const CHUNK_MS = 100;
const CHUNK_BYTES = 3200;
const OFFSETS = [0, 2000, 4000, 6000];

/**
 * Published keyword events of `base`, per device, de-duplicated by id (what a consumer keeps). A
 * duplicate (re-decided after a hand-over) must be the same event; `conflicts` collects those that
 * are not instead of failing (for the reports of a stalled wait).
 */
function eventsByDevice(log: MqttLog, base: string, conflicts?: string[]): Map<string, DeviceKeywordEvent[]> {
  const out = new Map<string, Map<string, DeviceKeywordEvent>>();
  for (const m of log.messages) {
    const t = m.topic.split('/');
    if (t[0] !== base || t[2] !== 'keyword') continue;
    const e = JSON.parse(m.text) as DeviceKeywordEvent;
    const byId = out.get(e.device) ?? new Map<string, DeviceKeywordEvent>();
    out.set(e.device, byId);
    const seen = byId.get(e.id);
    if (seen && eventKey(seen) !== eventKey(e)) {
      const what = `${e.device}: two events with id ${e.id}: ${JSON.stringify(seen)} then ${JSON.stringify(e)}`;
      if (!conflicts) assert.fail(what);
      conflicts.push(what);
    }
    byId.set(e.id, e);
  }
  return new Map([...out].map(([d, m]) => [d, [...m.values()].sort((a, b) => a.start_ms - b.start_ms)]));
}

/** On a stall: which events each device misses, who owned its partition when, and what the workers logged about it. */
function reportMissing(log: MqttLog, base: string, devs: { id: string }[], want: string[][], workers: ServeWorker[], leases: LeaseEvent[]): void {
  const conflicts: string[] = [];
  const got = eventsByDevice(log, base, conflicts);
  for (const c of conflicts) process.stderr.write(`# ${c}\n`);
  const owners = ownership(leases, SERVE_FAST.leaseTtlMs);
  const partitions = new Set<number>();
  for (const [i, d] of devs.entries()) {
    const g = (got.get(d.id) ?? []).map(eventKey);
    const missing = want[i]!.filter((k) => !g.includes(k));
    if (missing.length === 0) continue;
    const p = partitionOf(d.id, 16);
    partitions.add(p);
    const history = (owners.get(p) ?? []).map((x) => `${x.owner} ${x.from % 100_000}-${x.to % 100_000} ${x.ended}`).join(', ');
    process.stderr.write(`# ${d.id} p${p}: missing ${missing.join(' ')}; got ${g.join(' ')}; owners ${history}\n`);
  }
  for (const w of workers) {
    for (const line of w.stderr().split('\n')) {
      const m = /"partition":(\d+)/.exec(line);
      if ((m && partitions.has(Number(m[1]))) || /"level":[45]0/.test(line)) process.stderr.write(`# ${w.id} ${line.slice(0, 400)}\n`);
    }
  }
}

/** On an unexpected ownership change: who owned the partition when, and what the workers logged about members and the partition. */
function reportOwnership(p: number, workers: ServeWorker[], leases: LeaseEvent[], ttlMs: number): void {
  const history = (ownership(leases, ttlMs).get(p) ?? []).map((x) => `${x.owner} ${x.from % 100_000}-${x.to % 100_000} ${x.ended}`).join(', ');
  process.stderr.write(`# p${p} owners ${history}\n`);
  for (const w of workers) {
    for (const line of w.stderr().split('\n')) {
      const m = /"partition":(\d+)/.exec(line);
      if ((m && Number(m[1]) === p) || /members changed|"level":[45]0/.test(line)) process.stderr.write(`# ${w.id} ${line.slice(0, 400)}\n`);
    }
  }
}

describe('serve --cluster: workers on a 3-node NATS JetStream cluster', { skip }, () => {
  let model: Model;
  let ttt: Model;
  const expected = new Map<number, string[]>();
  const dir = tempDir();
  const mqttUrl = (): string => cluster!.nodes[0]!.mqttUrl;

  before(async () => {
    model = await loadModel(KEYWORD_MODEL, { backend: 'wasm' }); // the model and tier the workers run
    ttt = await loadModel(TTT_MODEL, { backend: 'wasm' });
  });

  async function expectedFor(offset: number, seconds: number): Promise<string[]> {
    const key = offset * 1000 + seconds;
    if (!expected.has(key)) expected.set(key, await offlineEvents(model, samplePcm(offset, seconds), CHUNK_BYTES, seconds));
    return expected.get(key)!;
  }

  function devices(prefix: string, n: number, seconds = 0): (SimulatedDevice & { offset: number })[] {
    return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, offset: OFFSETS[i % OFFSETS.length]!, pcm: samplePcm(OFFSETS[i % OFFSETS.length]!, seconds) }));
  }

  /** Every device's distinct events equal the single-process decisions on its audio; ids carry one origin per device. */
  async function assertEventsEqualOffline(log: MqttLog, base: string, devs: (SimulatedDevice & { offset: number })[], seconds: number, workers: ServeWorker[] = []): Promise<number> {
    let total = 0;
    const got = eventsByDevice(log, base);
    for (const d of devs) {
      const want = await expectedFor(d.offset, seconds);
      const events = got.get(d.id) ?? [];
      if (events.map(eventKey).join() !== want.join()) {
        // What happened to the device on each worker still running (restarts, shed or dropped chunks), and the ids.
        for (const w of workers.filter((x) => x.proc.exitCode === null && x.proc.signalCode === null)) {
          const h = await w.health().catch(() => null);
          process.stderr.write(`# ${d.id} p${partitionOf(d.id, 16)} on ${w.id}: ${JSON.stringify(h?.devices[d.id] ?? null)}\n`);
        }
        process.stderr.write(`# ${d.id} events: ${events.map((e) => `${eventKey(e)} ${e.id}`).join(', ')}\n`);
      }
      assert.deepEqual(events.map(eventKey), want, `${d.id}: events differ from the single-process run`);
      assert.equal(new Set(events.map((e) => e.id.split('-').slice(0, -1).join('-'))).size <= 1, true, `${d.id}: one stream origin`);
      total += want.length;
    }
    return total;
  }

  /** Sensor predictions as published: seq → values (every duplicate must agree). */
  function predictions(log: MqttLog, base: string, device: string): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const m of log.on(`${base}/${device}/prediction`)) {
      const p = JSON.parse(m.text) as { seq: number; values: number[] };
      const seen = out.get(p.seq);
      if (seen) assert.deepEqual(p.values, seen, `${device}: two different predictions for seq ${p.seq}`);
      out.set(p.seq, p.values);
    }
    return out;
  }

  /** The uninterrupted run of the TTT forecaster over `values` (predictions rounded as published) and its final state. */
  function uninterrupted(values: ArrayLike<number>): { predictions: number[][]; state: Uint8Array } {
    const session = ttt.createSession();
    const out: number[][] = [];
    for (const v of Array.from(values)) for (const o of session.push(new Float32Array([v]))) out.push(Array.from(o).map((x) => Math.round(x * 1e6) / 1e6));
    return { predictions: out, state: session.snapshot() };
  }

  /**
   * The state a device's last snapshot in the group holds equals the uninterrupted session's after
   * the same frames, byte for byte. The workers' SIGTERM hand-over writes the final one; on a busy
   * machine its 3 s stop deadline can cut that short, and the last periodic one stays: either way
   * the state is exact at its position.
   */
  async function assertStoredStateExact(group: string, device: string, values: ArrayLike<number>): Promise<void> {
    const stored = await storedSensorState(group, device);
    const through = stored.lastSeq ?? -1;
    assert.ok(through >= 0, `${device}: the stored state holds frames`);
    assert.ok(Buffer.from(stored.session).equals(Buffer.from(uninterrupted(Array.from(values).slice(0, through + 1)).state)), `${device}: the stored state (through frame ${through}) equals the uninterrupted run's after the same frames`);
    if (through !== values.length - 1) process.stderr.write(`# ${device}: the stored state is the last periodic one (through frame ${through} of ${values.length - 1}): the final hand-over did not finish within the stop deadline\n`);
  }

  /** The sensor state a device's last snapshot in the group holds, and the last frame in it. */
  async function storedSensorState(group: string, device: string): Promise<{ session: Uint8Array; lastSeq: number | null }> {
    const nc = await connect({ servers: cluster!.urls });
    try {
      const kv = await new Kvm(nc).open(clusterNames(group).snapshotsBucket);
      const e = await kv.get(`d.${partitionOf(device, 16)}.${device}`);
      assert.ok(e && e.operation === 'PUT', `a snapshot of ${device}`);
      const state = decodeDeviceState(decodeDeviceSnapshot(e.value, device).data, device);
      assert.ok(state.sensor, `${device}'s snapshot holds its sensor stream`);
      return { session: state.sensor.session, lastSeq: state.sensor.header.lastSeq };
    } finally {
      await nc.close();
    }
  }

  async function stopAll(workers: ServeWorker[]): Promise<void> {
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
    const codes = await Promise.all(workers.map((w) => w.exited));
    for (const [i, c] of codes.entries()) assert.ok(c === 0 || workers[i]!.proc.signalCode === 'SIGKILL', `${workers[i]!.id} exit ${c}: ${workers[i]!.stderr().slice(-1500)}`);
  }

  it('sticky: each device on one worker at a time, its events equal a single process run, discovery once per device, TTT predictions exact', async () => {
    const base = 'sticky';
    const seconds = 10;
    const devs = devices('s', 40);
    const log = await MqttLog.connect(mqttUrl(), [`${base}/+/keyword`, `${base}/+/prediction`, `homeassistant/device/#`], { protocolVersion: 4 });
    after(() => log.close());
    const worker = (id: string): Promise<ServeWorker> => serveWorker({ dir, base, memberId: `${base}-${id}`, natsUrls: cluster!.urls, mqttUrl: mqttUrl(), sensorModel: TTT_MODEL });
    const workers = [await worker('a')];
    const leases = await watchLeases(cluster!.urls, base);
    workers.push(await worker('b'));
    const { values } = sensorSignal(seconds * 10, 5);
    await streamDevices(mqttUrl(), base, devs, seconds, { sensors: [{ id: 'pump', values }] });
    const wantEvents = await Promise.all(devs.map((d) => expectedFor(d.offset, seconds)));
    // The streams' tails are decided when they go idle; wait while the workers still publish.
    const progress = workProgress(log, () => workers);
    await untilStalled(() => { const got = eventsByDevice(log, base); return devs.every((d, i) => (got.get(d.id)?.length ?? 0) >= wantEvents[i]!.length) && predictions(log, base, 'pump').size >= values.length; }, progress.value, 'the events of every device and every prediction');
    await sleep(500); // anything beyond them (which would fail the comparison) arrives too
    const total = await assertEventsEqualOffline(log, base, devs, seconds, workers);
    assert.ok(total >= 40 * 3, `${total} events`);
    const want = uninterrupted(values);
    const got = predictions(log, base, 'pump');
    for (let t = 0; t < want.predictions.length; t++) assert.deepEqual(got.get(t), want.predictions[t], `prediction ${t}`);
    // Each device's chunks were handled by exactly one worker: the one that owns its partition.
    const health = await Promise.all(workers.map((w) => w.health()));
    for (const d of devs) {
      const holders = health.filter((h) => (h.devices[d.id]?.chunks ?? 0) > 0);
      assert.equal(holders.length, 1, `${d.id} handled by ${holders.length} workers`);
      assert.equal(holders[0]!.devices[d.id]!.chunks, seconds * 10, `${d.id}: every chunk once`);
      assert.ok(holders[0]!.cluster!.partitions_owned.includes(partitionOf(d.id, 16)));
    }
    for (const h of health) assert.equal(h.cluster!.members.length, 2);
    // Ownership never overlapped (lease writes as the server stored them).
    for (const [p, owners] of ownership(leases.events, SERVE_FAST.leaseTtlMs)) {
      for (let i = 1; i < owners.length; i++) assert.ok(owners[i]!.from >= owners[i - 1]!.to, `partition ${p}: ${owners[i]!.owner} took it before ${owners[i - 1]!.owner} let go`);
    }
    // Home Assistant discovery: once per device (and once for the bridge), not once per worker.
    for (const d of [...devs.map((x) => x.id), 'pump', 'bridge']) {
      assert.equal(log.on(`homeassistant/device/${base}_${d}/config`).length, 1, `discovery of ${d}`);
    }
    await stopAll(workers);
  });

  it('a worker frozen (SIGSTOP) for longer than idleMs + 5 s takes none of its streams for idle on waking: they go on as one, their events those of a single process', async () => {
    const base = 'frozen';
    const seconds = 16;
    const devs = devices('f', 4, seconds);
    const log = await MqttLog.connect(mqttUrl(), [`${base}/+/keyword`], { protocolVersion: 4 });
    after(() => log.close());
    // Long TTLs: the frozen worker keeps its membership and leases (no hand-over); the devices keep
    // sending and the stream keeps storing, so by the stream's clock nobody paused.
    const w = await serveWorker({ dir, base, memberId: `${base}-a`, natsUrls: cluster!.urls, mqttUrl: mqttUrl(), cluster: { leaseTtlMs: 30_000, memberTtlMs: 30_000 } });
    await streamDevices(mqttUrl(), base, devs, seconds, {
      onTick: (k) => {
        if (k === 40) w.proc.kill('SIGSTOP'); // 8 s: past idleMs (1.5 s) + 5 s
        if (k === 120) w.proc.kill('SIGCONT');
      },
    });
    const want = await Promise.all(devs.map((d) => expectedFor(d.offset, seconds)));
    const progress = workProgress(log, () => [w]);
    await untilStalled(() => { const got = eventsByDevice(log, base); return devs.every((d, i) => (got.get(d.id)?.length ?? 0) >= want[i]!.length); }, progress.value, 'the events of every device').catch((e: unknown) => {
      reportMissing(log, base, devs, want, [w], []); // one worker, no hand-over: no lease history to show
      throw e;
    });
    await sleep(500);
    await assertEventsEqualOffline(log, base, devs, seconds, [w]);
    const h = await w.health();
    for (const d of devs) assert.equal(h.devices[d.id]!.chunks, seconds * 10, `${d.id}: every chunk once`);
    // Its consumers were alive all along: the watchdog judged them from the moment the worker woke.
    assert.doesNotMatch(w.stderr(), /partition consumer silent/);
    await stopAll([w]);
  });

  it('kill -9 of a worker under load (100 devices over MQTT): its partitions owned again within 2 s of lease expiry, no keyword event lost, the TTT streams continue exactly', async () => {
    const base = 'kill';
    const seconds = 14;
    const devs = devices('k', 100);
    const log = await MqttLog.connect(mqttUrl(), [`${base}/+/keyword`, `${base}/+/prediction`], { protocolVersion: 4 });
    after(() => log.close());
    // Two survivors hold 100 devices plus the replay on this shared 2-core machine: past capacity a
    // worker would shed devices (their streams restart), which is load shedding's own test
    // (service_overload); here it is off so that continuity is what is checked.
    const worker = (id: string): Promise<ServeWorker> => serveWorker({ dir, base, memberId: `${base}-${id}`, natsUrls: cluster!.urls, mqttUrl: mqttUrl(), sensorModel: TTT_MODEL, extra: { audio: { idleMs: 1500, bufferChunks: 1000, shedAboveLatencyMs: 0 } } });
    const workers = [await worker('a')];
    const leases = await watchLeases(cluster!.urls, base);
    workers.push(await worker('b'), await worker('c'));
    // The victim: the owner of the first TTT stream's partition (rendezvous over the member ids, as the workers compute it).
    const owners = assignPartitions(16, workers.map((w) => w.id));
    const victim = workers.find((w) => w.id === owners[partitionOf('pump1', 16)])!;
    const victimPartitions = owners.flatMap((o, p) => (o === victim.id ? [p] : []));
    const sensors = ['pump1', 'pump2'].map((id, i) => ({ id, values: sensorSignal(seconds * 10, 11 + i).values }));
    let killedAt = 0;
    await streamDevices(mqttUrl(), base, devs, seconds, {
      sensors,
      onTick: async (k) => {
        if (k !== 55) return;
        victim.proc.kill('SIGKILL');
        killedAt = Date.now();
      },
    });
    await victim.exited;
    const survivors = workers.filter((w) => w !== victim);
    // The survivors replay the victim's partitions while the devices go on: on a loaded machine they
    // catch up after the devices stop; wait while they still publish.
    const progress = workProgress(log, () => survivors);
    await untilStalled(() => sensors.every((s) => predictions(log, base, s.id).size >= s.values.length), progress.value, 'every prediction').catch(async (e: unknown) => {
      for (const s of sensors) {
        const got = predictions(log, base, s.id);
        const missing = Array.from({ length: s.values.length }, (_, t) => t).filter((t) => !got.has(t));
        process.stderr.write(`# ${s.id} p${partitionOf(s.id, 16)}: ${got.size} predictions, missing seq ${missing.join(' ')}\n`);
      }
      for (const w of survivors) {
        const h = await w.health();
        process.stderr.write(`# ${w.id}: ${JSON.stringify({ sensor_dropped: h.sensor_messages_dropped, rejected: h.messages_rejected, lag: h.cluster!.replay_lag, owned: h.cluster!.partitions_owned, restored: h.cluster!.devices_restored, pumps: sensors.map((s) => h.devices[s.id]) })}\n`);
        for (const line of w.stderr().split('\n')) if (/pump|warn|error|"level":[45]0/.test(line)) process.stderr.write(`# ${w.id} ${line.slice(0, 400)}\n`);
      }
      throw e;
    });
    const want = await Promise.all(devs.map((d) => expectedFor(d.offset, seconds)));
    const complete = (): boolean => { const got = eventsByDevice(log, base); return devs.every((d, i) => (got.get(d.id)?.length ?? 0) >= want[i]!.length); };
    await untilStalled(complete, progress.value, 'the events of every device').catch(async (e: unknown) => {
      const h = await Promise.all(workers.filter((w) => w !== victim).map((w) => w.health()));
      process.stderr.write(`# ${JSON.stringify(h.map((x) => ({ lag: x.cluster!.replay_lag, drops: x.chunks_dropped, gaps: x.seq_gaps, shed: x.chunks_shed, lost: x.audio_lost_ms, owned: x.cluster!.partitions_owned })))}\n`);
      const got = eventsByDevice(log, base);
      for (const w of workers) for (const line of w.stderr().split('\n')) if (/"partition":14\b|k0\b/.test(line) && !/"msg":"keyword"/.test(line)) process.stderr.write(`# ${w.id} ${line.slice(0, 300)}\n`);
      for (const [i, d] of devs.entries()) {
        const g = (got.get(d.id) ?? []).map(eventKey);
        if (g.length < want[i]!.length) process.stderr.write(`# ${d.id} p${partitionOf(d.id, 16)}${victimPartitions.includes(partitionOf(d.id, 16)) ? ' (victim)' : ''}: missing ${want[i]!.filter((k) => !g.includes(k)).join(' ')} got ${g.join(' ')}\n`);
      }
      throw e;
    });
    await sleep(1000);
    // Hand-over: each of the victim's partitions owned again within 2 s of its lease expiring.
    const intervals = ownership(leases.events, SERVE_FAST.leaseTtlMs);
    const takeovers: number[] = [];
    for (const p of victimPartitions) {
      const list = intervals.get(p)!;
      const i = list.findIndex((x) => x.owner === victim.id && x.to >= killedAt - 1000);
      assert.ok(i >= 0 && list[i]!.ended === 'expired' && list[i + 1], `partition ${p}: victim's lease expired and another worker took it`);
      const ms = list[i + 1]!.from - list[i]!.to;
      takeovers.push(ms);
      assert.ok(ms >= 0 && ms <= 2000, `partition ${p} taken ${ms} ms after its lease expired`);
    }
    // No keyword event of a continuing stream lost (nor changed): every device's distinct events are the single-process run's.
    await assertEventsEqualOffline(log, base, devs, seconds, survivors);
    // The TTT streams continue exactly: every prediction equals the uninterrupted run's.
    for (const s of sensors) {
      const want = uninterrupted(s.values);
      const got = predictions(log, base, s.id);
      for (let t = 0; t < want.predictions.length; t++) assert.deepEqual(got.get(t), want.predictions[t], `${s.id}: prediction ${t}`);
    }
    const health = await Promise.all(survivors.map((w) => w.health()));
    assert.ok(health.reduce((n, h) => n + h.cluster!.devices_restored, 0) > 0, 'devices were restored from snapshots');
    assert.ok(health.every((h) => h.cluster!.members.length === 2));
    await stopAll(survivors);
    // Bit for bit: the state handed over at the end equals the uninterrupted session's.
    for (const s of sensors) await assertStoredStateExact(base, s.id, s.values);
    process.stderr.write(`# kill -9: ${victimPartitions.length} partitions taken over ${takeovers.join(', ')} ms after lease expiry\n`);
  });

  it('scale out 2 → 4 workers and back under load: the partitions rendezvous hashing moves (about 1/N) move, nothing else, and the state moves with them', async () => {
    const base = 'scale';
    // The devices stream until the new workers have joined (however long their start takes on a
    // busy machine), held the partitions for 3 s, left, and the old workers held them again for 4 s.
    const maxSeconds = 90;
    const devs = devices('c', 40, maxSeconds);
    const log = await MqttLog.connect(mqttUrl(), [`${base}/+/keyword`, `${base}/+/prediction`], { protocolVersion: 4 });
    after(() => log.close());
    // Every hand-over here is graceful (a join, a leave): none waits for a lease to expire, so the
    // workers run with the deployed TTLs (10 s), and a worker starved of CPU for a few seconds on
    // this shared 2-core machine is not taken for dead (that would be a membership change too).
    const ttl = { leaseTtlMs: 10_000, memberTtlMs: 10_000 };
    const worker = (id: string): Promise<ServeWorker> => serveWorker({ dir, base, memberId: `${base}-${id}`, natsUrls: cluster!.urls, mqttUrl: mqttUrl(), sensorModel: TTT_MODEL, cluster: ttl });
    const first = [await worker('w1')];
    const leases = await watchLeases(cluster!.urls, base);
    first.push(await worker('w2'));
    await sleep(1000); // w1 hands w2 its partitions
    const twoReady = Date.now();
    const ids2 = first.map((w) => w.id);
    const ids4 = [...ids2, `${base}-w3`, `${base}-w4`];
    const two = assignPartitions(16, ids2);
    const four = assignPartitions(16, ids4);
    const signal = sensorSignal(maxSeconds * 10, 7).values;
    let extra: Promise<ServeWorker[]> | null = null;
    let added: ServeWorker[] = [];
    let joinedAt: number | null = null;
    let leftAt: number | null = null;
    const addedHealth: Awaited<ReturnType<ServeWorker['health']>>[] = [];
    const ticks = await streamDevices(mqttUrl(), base, devs, maxSeconds, {
      sensors: [{ id: 'pump', values: signal }],
      onTick: async (k) => {
        if (k === 20) extra = Promise.all([worker('w3'), worker('w4')]); // joins while the devices stream
        if (k > 20 && extra && joinedAt === null && k % 5 === 0) {
          const h = await first[0]!.health();
          if (h.cluster!.members.length === 4) {
            added = await extra;
            joinedAt = k;
          }
        }
        if (joinedAt !== null && leftAt === null && k >= Math.max(110, joinedAt + 30)) {
          addedHealth.push(...(await Promise.all(added.map((w) => w.health()))));
          for (const w of added) w.proc.kill('SIGTERM'); // leave: their partitions are handed back
          leftAt = k;
        }
      },
      stopAt: (k) => leftAt !== null && k >= leftAt + 40,
    });
    assert.ok(leftAt !== null, `the two workers joined and left within ${maxSeconds} s of streaming`);
    process.stderr.write(`# scale: the new workers joined ${(joinedAt! - 20) / 10} s after they were started; ${ticks / 10} s of streaming\n`);
    const seconds = ticks / 10;
    const values = signal.slice(0, ticks);
    await Promise.all(added.map((w) => w.exited));
    const want = await Promise.all(devs.map((d) => expectedFor(d.offset, seconds)));
    const progress = workProgress(log, () => [...first, ...added]);
    await untilStalled(() => { const got = eventsByDevice(log, base); return devs.every((d, i) => (got.get(d.id)?.length ?? 0) >= want[i]!.length); }, progress.value, 'the events of every device').catch((e: unknown) => {
      reportMissing(log, base, devs, want, [...first, ...added], leases.events);
      throw e;
    });
    await untilStalled(() => predictions(log, base, 'pump').size >= values.length, progress.value, 'every prediction');
    await sleep(1000);
    // Ownership changes: on scale-out exactly the partitions the 4-member assignment gives the new
    // workers moved (to them), none between the old two; on scale-in they came back.
    const owners = ownership(leases.events, ttl.leaseTtlMs);
    const movedOut = [...owners].filter(([, list]) => list.some((x) => x.owner.endsWith('w3') || x.owner.endsWith('w4'))).map(([p]) => p).sort((a, b) => a - b);
    const expectedMoves = four.flatMap((o, p) => (o !== two[p] ? [p] : []));
    assert.deepEqual(movedOut, expectedMoves, 'the partitions that moved are those rendezvous hashing gives the new workers');
    for (const p of expectedMoves) assert.ok(ids4.slice(2).includes(four[p]!));
    for (const [p, list] of owners) {
      const since = list.filter((x) => x.to >= twoReady);
      // The two join one after the other: with three members the partition may go to the first of them.
      const allowed = new Set([two, four, assignPartitions(16, [...ids2, ids4[2]!]), assignPartitions(16, [...ids2, ids4[3]!])].map((a) => a[p]!));
      assert.ok(since.every((x) => allowed.has(x.owner)), `partition ${p} went only to its rendezvous owners: ${since.map((x) => x.owner).join(' → ')}`);
      // Four membership changes (two joins, two leaves), so at most five owners: the two that leave
      // get SIGTERM together but leave one after the other, and a partition of the first to go can
      // pass through the second (w1 → w4 → w3 → w4 → w1 when w4 joined first and w3 left first).
      if (since.length > 5) reportOwnership(p, [...first, ...added], leases.events, ttl.leaseTtlMs);
      assert.ok(since.length <= 5, `partition ${p} moved only with the membership: ${since.map((x) => x.owner).join(' → ')}`);
      assert.equal(list.at(-1)!.owner, two[p], `partition ${p} is back with its 2-member owner`);
    }
    // State moved with the partitions: the new workers restored devices, and so did the old ones when they came back.
    assert.ok(addedHealth.reduce((n, h) => n + h.cluster!.devices_restored, 0) > 0, 'the new workers restored devices');
    const after2 = await Promise.all(first.map((w) => w.health()));
    assert.ok(after2.reduce((n, h) => n + h.cluster!.devices_restored, 0) > 0, 'the old workers restored the devices handed back');
    await assertEventsEqualOffline(log, base, devs, seconds, first);
    const wantPred = uninterrupted(values);
    const got = predictions(log, base, 'pump');
    for (let t = 0; t < wantPred.predictions.length; t++) assert.deepEqual(got.get(t), wantPred.predictions[t], `pump: prediction ${t}`);
    await stopAll(first);
    await assertStoredStateExact(base, 'pump', values);
    process.stderr.write(`# scale 2 → 4 → 2: ${expectedMoves.length} of 16 partitions moved each way\n`);
  });

  it('one NATS node killed and restarted: workers reconnect, nothing acknowledged is lost', async () => {
    const base = 'natsfail';
    const seconds = 10;
    const devs = devices('n', 20);
    const log = await MqttLog.connect(mqttUrl(), [`${base}/+/keyword`], { protocolVersion: 4 });
    after(() => log.close());
    // A stall of a few seconds while the stream elects a leader is no idle device (idleMs 20 s); the streams end with `stop` markers.
    const worker = (id: string): Promise<ServeWorker> => serveWorker({ dir, base, memberId: `${base}-${id}`, natsUrls: cluster!.urls, mqttUrl: mqttUrl(), extra: { audio: { idleMs: 20_000, bufferChunks: 1000, shedAboveLatencyMs: 0 } } });
    const workers = [await worker('a'), await worker('b')];
    const nc = await connect({ servers: cluster!.urls });
    after(() => nc.close());
    // Kill the input stream's leader unless it is node 1 (whose MQTT listener carries the outputs), else node 3.
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const info = await (await jetstreamManager(nc)).streams.info(clusterNames(base).inputStream);
    const victim = cluster!.nodes.find((n) => n.spec.name === info.cluster?.leader && n.spec.name !== 'n1') ?? cluster!.nodes[2]!;
    let acked = 0;
    /** Publish through JetStream (acknowledged by the stream); retried with the same message id until acknowledged. */
    const send = async (device: string, k: number, data: Uint8Array, type: 'chunk' | 'stop'): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await publishInput(nc, base, device, 'audio', data, { seq: String(k), timestamp: String(k * CHUNK_MS), type }, { msgId: `${device}-${k}-${type}`, timeoutMs: 2000 });
          acked++;
          return;
        } catch (e) {
          if (attempt > 200) throw e;
          await sleep(100);
        }
      }
    };
    const ticks = seconds * 10;
    const t0 = Date.now();
    for (let k = 0; k < ticks; k++) {
      if (k === 30) await victim.kill('SIGKILL');
      if (k === 70) await victim.restart();
      const wait = t0 + k * CHUNK_MS - Date.now();
      if (wait > 0) await sleep(wait);
      await Promise.all(devs.map((d) => send(d.id, k, d.pcm.subarray(k * CHUNK_BYTES, (k + 1) * CHUNK_BYTES), 'chunk')));
    }
    await Promise.all(devs.map((d) => send(d.id, ticks, new Uint8Array(0), 'stop')));
    assert.equal(acked, devs.length * (ticks + 1));
    const want = await Promise.all(devs.map((d) => expectedFor(d.offset, seconds)));
    const progress = workProgress(log, () => workers);
    await untilStalled(() => { const got = eventsByDevice(log, base); return devs.every((d, i) => (got.get(d.id)?.length ?? 0) >= want[i]!.length); }, progress.value, 'the events of every device').catch((e: unknown) => {
      reportMissing(log, base, devs, want, workers, []);
      throw e;
    });
    await sleep(1000);
    await assertEventsEqualOffline(log, base, devs, seconds, workers);
    const health = await Promise.all(workers.map((w) => w.health()));
    for (const h of health) {
      assert.equal(h.cluster!.nats_connected, true);
      assert.equal(h.cluster!.members.length, 2);
      assert.equal(h.seq_gaps, 0, 'no acknowledged chunk missing from a device\'s stream');
      assert.equal(h.chunks_dropped, 0);
    }
    await stopAll(workers);
  });
});
