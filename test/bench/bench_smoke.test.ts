import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { MOSQUITTO_MISSING, mosquittoBinary } from '../helpers/mosquitto.js';

// Smoke only: the bench runs with tiny settings and its JSON is well formed. No timing assertions.
describe('edgestream bench (smoke)', () => {
  it('times every backend at each batch size and reports machine-readable JSON', () => {
    const r = runCli(['bench', '--arch', 'slmu_rnn_ms_conv1d', '--dim', '16', '--streams', '1,3', '--steps', '5', '--min-steps', '2', '--budget-ms', '10', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /bench: .* · onnx · batch 3/, 'progress on stderr');
    const report = JSON.parse(r.stdout);
    assert.equal(report.models.length, 1);
    const m = report.models[0];
    assert.equal(m.variant, 'slmu_rnn_ms_conv1d');
    assert.equal(m.config.dim, 16);
    const backends = [...new Set(m.results.map((x: { backend: string }) => x.backend))];
    assert.ok(backends.includes('js') && backends.includes('onnx'), `backends ${backends.join(', ')}`);
    assert.equal(m.results.length, backends.length * 2);
    for (const x of m.results) {
      assert.ok([1, 3].includes(x.batch));
      assert.ok(x.steps >= 2 && x.steps <= 5);
      for (const k of ['medianUs', 'p99Us', 'meanUs', 'perStreamUs']) assert.ok(Number.isFinite(x[k]) && x[k] > 0, k);
      assert.ok(x.p99Us >= x.medianUs);
      assert.ok(typeof x.vsOnnx === 'number');
      assert.ok(Number.isFinite(x.cpuPerStreamUs) && x.cpuPerStreamUs > 0, 'cpuPerStreamUs');
      assert.ok(typeof x.vsBatch1 === 'number' && (x.batch !== 1 || x.vsBatch1 === 1), 'vsBatch1');
      assert.ok(Number.isInteger(x.realtimeStreamsPerCore));
    }
    assert.ok(m.stateBytesPerStream.js > 0 && m.stateBytesPerStream.onnx > 0);
    assert.ok(report.peakRssBytes > 0);
    assert.ok(report.machine.cores >= 1 && typeof report.machine.cpu === 'string');
  });

  it('--ttt adds the test-time-training layer kinds (per-token median/p99, boundary cost) to the same report', () => {
    const r = runCli(['bench', '--arch', 'lmu_rnn_conv1d', '--dim', '16', '--streams', '1', '--backends', 'js', '--steps', '3', '--min-steps', '1', '--budget-ms', '5', '--ttt', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.models.length, 1);
    const kinds = report.ttt.map((x: { kind: string }) => x.kind);
    for (const k of ['ttt_linear', 'ttt_mlp', 'lact']) assert.ok(kinds.includes(k), `kinds: ${kinds.join(', ')}`);
    for (const x of report.ttt) {
      assert.equal(x.width, 16);
      assert.ok(x.p99Us >= x.medianUs && x.medianUs > 0);
      assert.ok(Number.isFinite(x.boundaryCostUs));
    }
  });

  it('prints a human table without --json; --int8 adds int8 rows for kernel tiers', () => {
    const r = runCli(['bench', '--arch', 'lmu_rnn_conv1d', '--dim', '8', '--streams', '2', '--backends', 'js', '--int8', '--steps', '3', '--min-steps', '1', '--budget-ms', '5']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /backend\s+weights\s+batch\s+median µs/);
    assert.match(r.stdout, /js\s+int8\s+2\s/);
    assert.match(r.stdout, /peak RSS/);
  });

  it('long-run mode reports memory samples and a verdict', () => {
    const r = runCli(['bench', '--arch', 'lmu_rnn_conv1d', '--dim', '8', '--streams', '4', '--backends', 'js', '--long-run', '2000', '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.steps, 2000);
    assert.equal(report.pass, true);
    assert.ok(report.samples.length >= 2);
    assert.equal(report.dropped, 0);
  });

  it('bad options: exit 2 with a clear message', () => {
    const r = runCli(['bench', '--arch', 'nope']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /E_UNKNOWN_ARCH/);
    const s = runCli(['bench', '--arch', 'lmu_rnn_conv1d', '--streams', '0']);
    assert.equal(s.status, 2);
    assert.match(s.stderr, /--streams/);
  });
});

describe('edgestream bench-mqtt (smoke)', { skip: mosquittoBinary() ? false : MOSQUITTO_MISSING }, () => {
  it('streams a few devices through mosquitto and a real `edgestream serve`; no chunk is lost or dropped', () => {
    const r = runCli(['bench-mqtt', '--devices', '3', '--seconds', '4', '--threshold', '0.05', '--json']);
    const report = JSON.parse(r.stdout);
    assert.equal(r.status, report.ok ? 0 : 1, r.stderr);
    assert.equal(report.devices, 3);
    assert.equal(report.chunks.sent, 3 * 200);
    // A small run on an idle broker loses and drops nothing: every chunk sent reached the service
    // and went through its pipeline (lost = sent − received; dropped = chunks or frames it dropped).
    assert.equal(report.chunks.lost, 0, JSON.stringify(report.chunks));
    assert.equal(report.chunks.dropped, 0, JSON.stringify(report.chunks));
    assert.equal(report.chunks.received, report.chunks.sent);
    for (const k of ['latencyMs', 'steadyLatencyMs', 'startLatencyMs']) {
      if (report[k] === null) continue; // no detection in that span: nothing to time
      assert.ok(report[k].p50 <= report[k].p99 && report[k].p99 <= report[k].max, k);
    }
    const samples = (k: string): number => report[k]?.samples ?? 0;
    assert.equal(samples('steadyLatencyMs') + samples('startLatencyMs'), samples('latencyMs'));
    assert.ok(report.serviceCpuSeconds > 0 && report.serviceRssBytes > 0);
  });

  it('--chunk-ms: devices publish larger chunks (100 ms), all of them arrive; out-of-range sizes are E_USAGE', () => {
    const r = runCli(['bench-mqtt', '--devices', '2', '--seconds', '3', '--chunk-ms', '100', '--threshold', '0.05', '--json']);
    const report = JSON.parse(r.stdout);
    assert.equal(report.chunkMs, 100);
    assert.equal(report.chunks.sent, 2 * 30);
    assert.equal(report.chunks.received, report.chunks.sent, JSON.stringify(report.chunks));
    assert.equal(report.chunks.dropped, 0, JSON.stringify(report.chunks));
    for (const bad of ['5', '1001', '20.5']) {
      const b = runCli(['bench-mqtt', '--chunk-ms', bad]);
      assert.equal(b.status, 2);
      assert.match(b.stderr, /E_USAGE: .*--chunk-ms.* must be an integer from 10 to 1000/);
    }
  });

  it('--dim/--arch run a random model of that size, not the shipped one; with --model they are E_USAGE', () => {
    const r = runCli(['bench-mqtt', '--devices', '1', '--seconds', '2', '--dim', '16', '--json']);
    const report = JSON.parse(r.stdout);
    assert.equal(report.model.random, true, JSON.stringify(report.model));
    assert.equal(report.chunks.received, report.chunks.sent, JSON.stringify(report.chunks));
    const b = runCli(['bench-mqtt', '--model', 'models/lmuformer/demo/kws12.safetensors', '--dim', '16']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /E_USAGE: --arch\/--dim describe a random model: not with --model/);
  });
});
