import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { encodeS16le, readWavSamples } from '../../runtime/audio/wav_samples.js';
import { resampleBuffer } from '../../runtime/audio/resampler.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { runClusterBench } from '../../transports/service/cluster_bench.js';
import { killBenchChildren } from '../../transports/service/mqtt_load_bench.js';
import { DEMO_MODEL, DEMO_SAMPLE } from '../../transports/service/package_paths.js';
import { BACKEND_HELP, chunkMsOption, int8Option, parseBackend, parseNumber } from '../options.js';

interface BenchClusterOptions {
  devices: string;
  seconds: string;
  rounds: string;
  model?: string;
  audio?: string;
  threshold: string;
  backend: string;
  chunkMs: number;
  int8?: boolean;
  json?: boolean;
}

export function registerBenchCluster(program: Command): void {
  program
    .command('bench-cluster')
    .description('the cluster path against a single serve, in one run: N MQTT devices through a loopback nats-server to one `serve` and to one `serve --cluster` worker, in alternating rounds; devices per worker core and the added latency (docs/cluster.md)')
    .option('--devices <n>', 'simulated devices (MQTT 3.1.1, chunks in real time)', '50')
    .option('--seconds <s>', 'streaming time per round', '20')
    .option('--rounds <n>', 'rounds of each (single, cluster, single, cluster, …); medians are reported', '3')
    .option('--model <file>', 'keyword model (default: the shipped demo model)')
    .option('--audio <wav>', 'audio the devices stream (looped; default: the bundled spoken sample)')
    .option('--threshold <x>', 'detection threshold (low: many detections, many latency samples)', '0.1')
    .option('--backend <name>', BACKEND_HELP, 'auto')
    .addOption(int8Option())
    .addOption(chunkMsOption())
    .option('--json', 'print the result as JSON')
    .action(async (opts: BenchClusterOptions) => {
      const devices = parseNumber(opts.devices, '--devices');
      const seconds = parseNumber(opts.seconds, '--seconds');
      const rounds = parseNumber(opts.rounds, '--rounds');
      if (!(Number.isInteger(devices) && devices >= 1 && devices <= 2000)) throw new EdgestreamError('E_USAGE', `--devices must be 1…2000, got ${opts.devices}`);
      if (!(seconds >= 3 && seconds <= 3600)) throw new EdgestreamError('E_USAGE', `--seconds must be 3…3600, got ${opts.seconds}`);
      if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) throw new EdgestreamError('E_USAGE', `--rounds must be 1…20, got ${opts.rounds}`);
      const modelPath = opts.model ?? DEMO_MODEL;
      const model = await loadModel(modelPath, { backend: 'js' });
      const { samples, rate } = readWavSamples(opts.audio ?? DEMO_SAMPLE);
      const tmp = mkdtempSync(join(tmpdir(), 'edgestream-bench-cluster-'));
      const onSignal = (sig: NodeJS.Signals): void => {
        process.stderr.write(`bench-cluster: ${sig}: stopping the services and nats-server\n`);
        killBenchChildren();
        rmSync(tmp, { recursive: true, force: true });
        process.exit(sig === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const cli = fileURLToPath(new URL('../main.js', import.meta.url));
        const r = await runClusterBench({
          devices,
          seconds,
          rounds,
          chunkMs: opts.chunkMs,
          modelPath,
          modelDelayFrames: model.delay,
          frameShiftMs: model.frontend?.frameShiftMs ?? 10,
          audio: encodeS16le(resampleBuffer(samples, rate, 16000)),
          service: {
            model: { path: modelPath, backend: parseBackend(opts.backend), int8: opts.int8 === true },
            decision: { threshold: parseNumber(opts.threshold, '--threshold') },
            audio: { idleMs: 60_000, bufferChunks: 100 },
          },
          cli: cli.endsWith('.ts') ? cli.replace(/\.ts$/, '.js') : cli,
          tmpDir: tmp,
          progress: (line) => void process.stderr.write(`bench-cluster: ${line}\n`),
        });
        const report = { command: `edgestream bench-cluster ${process.argv.slice(3).join(' ')}`.trim(), model: model.name, ...r };
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          const lines = [`${devices} devices × ${opts.chunkMs} ms chunks (MQTT 3.1.1 via nats-server's listener), ${seconds} s per round, ${rounds} round(s) each; model ${model.name}${opts.int8 ? ', int8' : ''}`];
          for (const x of r.rounds) {
            const l = x.result.steadyLatencyMs;
            lines.push(`  ${x.mode.padEnd(7)} round ${x.round + 1}: latency p50 ${l?.p50 ?? '?'} ms, p99 ${l?.p99 ?? '?'} ms (${l?.samples ?? 0} events after 2 s); chunks ${x.result.chunks.sent} sent, ${x.result.chunks.lost} lost, ${x.result.chunks.dropped} dropped; ${x.result.serviceCpuSeconds ?? '?'} CPU s → ${x.devicesPerCore ?? '?'} devices per core; nats-server ${x.natsCpuSeconds ?? '?'} CPU s`);
          }
          for (const mode of ['single', 'cluster'] as const) {
            const m = r.median[mode];
            lines.push(`median ${mode}: latency p50 ${m.steadyP50Ms ?? '?'} ms (whole run p50 ${m.latencyP50Ms ?? '?'}, p99 ${m.latencyP99Ms ?? '?'}), ${m.devicesPerCore ?? '?'} devices per core, nats-server ${m.natsCpuSeconds ?? '?'} CPU s per round`);
          }
          lines.push(`cluster path adds ${r.addedLatencyP50Ms ?? '?'} ms at p50; load average ${r.machine.loadAverageBefore.join(' ')} → ${r.machine.loadAverageAfter.join(' ')} (${r.machine.cpus} CPUs)`);
          process.stdout.write(`${lines.join('\n')}\n`);
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        rmSync(tmp, { recursive: true, force: true });
      }
    });
}
