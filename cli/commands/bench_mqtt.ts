import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { encodeS16le, readWavSamples } from '../../runtime/audio/wav_samples.js';
import { resampleBuffer } from '../../runtime/audio/resampler.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { isVariant } from '../../models/lmuformer/variants.js';
import { killBenchChildren, runMqttLoadBench, STEADY_AFTER_MS } from '../../transports/service/mqtt_load_bench.js';
import { DEMO_MODEL, DEMO_SAMPLE } from '../../transports/service/package_paths.js';
import { soakSummary, soakSvg } from '../../transports/service/soak_report.js';
import { BACKEND_HELP, chunkMsOption, int8Option, parseBackend, parseNumber } from '../options.js';

interface BenchMqttOptions {
  devices: string;
  seconds: string;
  chunkMs: number;
  int8?: boolean;
  model?: string;
  arch?: string;
  dim?: string;
  audio?: string;
  threshold?: string;
  engine?: boolean;
  workers: string;
  backend: string;
  broker?: string;
  json?: boolean;
  sampleSeconds?: string;
  out?: string;
  svg?: string;
}

/** The sample as 16 kHz s16le PCM (what the simulated devices send). */
function pcm16k(path: string): Uint8Array {
  const { samples, rate } = readWavSamples(path);
  return encodeS16le(resampleBuffer(samples, rate, 16000));
}

export function registerBenchMqtt(program: Command): void {
  program
    .command('bench-mqtt')
    .description('MQTT load benchmark: N devices stream 20 ms chunks (--chunk-ms) in real time to `edgestream serve` through mosquitto; reports drops and detection latency (JSON with --json)')
    .option('--devices <n>', 'simulated devices', '100')
    .option('--seconds <s>', 'duration', '60')
    .addOption(chunkMsOption())
    .option('--model <file>', 'model the service runs (default: the shipped demo model; a random one when --arch or --dim is given or the demo model is missing)')
    .option('--arch <variant>', 'random model variant (default slmu_rnn_ms_conv1d)')
    .option('--dim <n>', 'random model dim (default 64)')
    .option('--audio <wav>', 'audio the devices stream (looped; default: the bundled spoken sample)')
    .option('--threshold <x>', 'detection threshold (default: the model\'s; 0 with a random model, so that detections happen and latency is measured)')
    .option('--engine', 'step the devices\' models in the batched engine (worker threads); default: in the service thread, as `serve` does')
    .option('--workers <n>', 'engine worker threads (with --engine)', '1')
    .option('--backend <name>', BACKEND_HELP, 'auto')
    .addOption(int8Option())
    .option('--broker <url>', 'use this broker instead of starting mosquitto')
    .option('--json', 'print the result as JSON')
    .option('--sample-seconds <s>', 'sample the service (RSS, heap, drops, gaps, latency) this often over the run (soak runs)')
    .option('--out <file.json>', 'also write the JSON result (with the timeline) to this file')
    .option('--svg <file.svg>', 'write memory, latency and losses over the run as an SVG chart (with --sample-seconds)')
    .action(async (opts: BenchMqttOptions) => {
      const devices = parseNumber(opts.devices, '--devices');
      const seconds = parseNumber(opts.seconds, '--seconds');
      if (!(Number.isInteger(devices) && devices >= 1 && devices <= 10_000)) throw new EdgestreamError('E_USAGE', `--devices must be 1…10000, got ${opts.devices}`);
      if (!(seconds > 0 && seconds <= 86_400)) throw new EdgestreamError('E_USAGE', `--seconds must be in (0, 86400], got ${opts.seconds}`);
      const chunkMs = opts.chunkMs;
      const sampleSeconds = opts.sampleSeconds !== undefined ? parseNumber(opts.sampleSeconds, '--sample-seconds') : undefined;
      if (sampleSeconds !== undefined && !(sampleSeconds >= 1)) throw new EdgestreamError('E_USAGE', `--sample-seconds must be 1 or more, got ${opts.sampleSeconds}`);
      const tmp = mkdtempSync(join(tmpdir(), 'edgestream-bench-mqtt-'));
      // Ctrl-C or a SIGTERM: the broker and the service this run started go with it.
      const onSignal = (sig: NodeJS.Signals): void => {
        process.stderr.write(`bench-mqtt: ${sig}: stopping the service and the broker\n`);
        killBenchChildren();
        rmSync(tmp, { recursive: true, force: true });
        process.exit(sig === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        // --arch/--dim ask for a random model: say so rather than quietly run the shipped one.
        const randomAsked = opts.arch !== undefined || opts.dim !== undefined;
        if (randomAsked && opts.model) throw new EdgestreamError('E_USAGE', '--arch/--dim describe a random model: not with --model');
        let modelPath = opts.model ?? (!randomAsked && existsSync(DEMO_MODEL) ? DEMO_MODEL : null);
        let random = false;
        if (!modelPath) {
          const arch = opts.arch ?? 'slmu_rnn_ms_conv1d';
          if (!isVariant(arch)) throw new EdgestreamError('E_USAGE', `unknown --arch ${arch}`);
          modelPath = join(tmp, 'random.safetensors');
          writeFileSync(modelPath, randomLmuformerModel({ variant: arch, dim: parseNumber(opts.dim ?? '64', '--dim') }).bytes);
          random = true;
        }
        const model = await loadModel(modelPath, { backend: 'js' });
        const audioPath = opts.audio ?? (existsSync(DEMO_SAMPLE) ? DEMO_SAMPLE : null);
        if (!audioPath) throw new EdgestreamError('E_USAGE', 'no audio: pass --audio <wav> (the bundled sample is missing)');
        const threshold = opts.threshold !== undefined ? parseNumber(opts.threshold, '--threshold') : random ? 0 : undefined;
        const progress = (line: string): void => void process.stderr.write(`bench-mqtt: ${line}\n`);
        const cli = fileURLToPath(new URL('../main.js', import.meta.url));
        const result = await runMqttLoadBench({
          devices,
          seconds,
          chunkMs,
          modelPath,
          modelDelayFrames: model.delay,
          frameShiftMs: model.frontend?.frameShiftMs ?? 10,
          audio: pcm16k(audioPath),
          service: {
            model: { path: modelPath, backend: parseBackend(opts.backend), int8: opts.int8 === true },
            engine: { enabled: opts.engine === true, workers: parseNumber(opts.workers, '--workers') },
            decision: {
              ...(threshold !== undefined && { threshold }),
            },
            audio: { idleMs: 60_000, bufferChunks: 100 },
          },
          cli: cli.endsWith('.ts') ? cli.replace(/\.ts$/, '.js') : cli,
          tmpDir: tmp,
          ...(opts.broker !== undefined && { brokerUrl: opts.broker }),
          progress,
          ...(sampleSeconds !== undefined && { sampleEveryMs: sampleSeconds * 1000 }),
        });
        const report = {
          command: `edgestream bench-mqtt ${process.argv.slice(3).join(' ')}`.trim(),
          model: { path: modelPath, name: model.name, random, delayFrames: model.delay },
          backend: opts.backend,
          int8: opts.int8 === true,
          engine: opts.engine ? { workers: Number(opts.workers) } : null,
          ...result,
          ...(sampleSeconds !== undefined && { soak: soakSummary(result.timeline) }),
        };
        if (opts.out) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
        if (opts.svg) writeFileSync(opts.svg, soakSvg(result.timeline, `${devices} devices, ${Math.round(seconds / 60)} min`));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          const l = result.latencyMs;
          const s = result.steadyLatencyMs;
          const st = result.startLatencyMs;
          process.stdout.write(
            [
              `${devices} devices × ${chunkMs} ms chunks, ${seconds} s, ${result.broker}; model ${model.name}${random ? ' (random weights)' : ''}${opts.int8 ? ', int8' : ''}, ${opts.engine ? `engine ${opts.workers} worker(s)` : 'no engine'}`,
              `chunks: ${result.chunks.sent} sent, ${result.chunks.received} received, ${result.chunks.dropped} dropped, ${result.chunks.shed} shed, ${result.chunks.seqGaps} seq gaps${result.overload?.shedding ? ` (past capacity at the end: serving at most ${result.overload.served_cap} devices)` : ''}`,
              `detections: ${result.events}; latency beyond the model delay: ${l ? `p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.samples} samples)` : 'no samples'}`,
              `  after the first ${STEADY_AFTER_MS / 1000} s (all devices appearing at once): ${s ? `p50 ${s.p50} ms, p90 ${s.p90} ms, p99 ${s.p99} ms, max ${s.max} ms (${s.samples} samples)` : 'no samples'}`,
              `  in the first ${STEADY_AFTER_MS / 1000} s: ${st ? `p50 ${st.p50} ms, p90 ${st.p90} ms, p99 ${st.p99} ms, max ${st.max} ms (${st.samples} samples)` : 'no samples'}`,
              `service: chunk latency p50 ${result.serviceChunkLatencyMs.p50} ms / p99 ${result.serviceChunkLatencyMs.p99} ms (worst device), ${result.serviceCpuSeconds ?? '?'} CPU s${result.serviceCpuSeconds ? ` (${Math.round((devices * seconds) / result.serviceCpuSeconds)} devices per core)` : ''}, RSS ${(result.serviceRssBytes / 2 ** 20).toFixed(0)} MiB; device simulator ${result.simulatorCpuSeconds} CPU s (publish lag p99 ${result.publishLagMs.p99} ms), broker ${result.brokerCpuSeconds ?? '?'} CPU s`,
              ...('soak' in report && report.soak ? [`memory over ${report.soak.samples} samples: RSS ${report.soak.rssMiB.first} → ${report.soak.rssMiB.last} MiB (max ${report.soak.rssMiB.max}; second half ${report.soak.rssMiB.slopeMiBPerHourSecondHalf ?? '?'} MiB/h), heap ${report.soak.heapMiB.first} → ${report.soak.heapMiB.last} MiB (second half ${report.soak.heapMiB.slopeMiBPerHourSecondHalf ?? '?'} MiB/h); windows with p99 > 50 ms: ${report.soak.windowsP99Above50Ms}`] : []),
              `load average ${result.machine.loadAverageBefore.join(' ')} → ${result.machine.loadAverageAfter.join(' ')}: ${result.ok ? 'PASS' : 'FAIL'} (no loss, p99 ≤ 50 ms)`,
            ].join('\n') + '\n',
          );
        }
        process.exitCode = result.ok ? 0 : 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        rmSync(tmp, { recursive: true, force: true });
      }
    });
}
