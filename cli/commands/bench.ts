import type { Command } from 'commander';
import { longRun, HEAP_GROWTH_LIMIT, RSS_GROWTH_LIMIT } from '../../runtime/bench/long_run.js';
import { defaultBackends, machine, runBench, type BenchModel, type BenchReport } from '../../runtime/bench/bench.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { BackendName } from '../../runtime/model/model.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { VARIANTS, type Variant } from '../../models/lmuformer/variants.js';
import { runTttBench } from '../../models/ttt/bench.js';
import { parseBackend } from '../options.js';
import { formatTttTable } from './bench_ttt.js';
import { VERSION } from '../version.js';

/** The issue's standard run: the dim-256 Speech Commands configuration of every variant. */
const STANDARD_VARIANTS: Variant[] = ['lmu_rnn_conv1d', 'slmu_rnn_conv1d', 'slmu_rnn_ms_conv1d'];

interface BenchOpts {
  arch?: string;
  dim: string;
  seed: string;
  streams: string;
  backends?: string;
  steps: string;
  minSteps: string;
  budgetMs: string;
  json?: boolean;
  int8?: boolean;
  ttt?: boolean;
  longRun?: string | true;
}

function positiveInt(v: string, name: string, max = 1e9): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new EdgestreamError('E_USAGE', `${name} must be an integer from 1 to ${max}, got "${v}"`);
  return n;
}

function list(v: string, name: string): number[] {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new EdgestreamError('E_USAGE', `${name} must list at least one number`);
  return [...new Set(items.map((s) => positiveInt(s, name, 4096)))].sort((a, b) => a - b);
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('per-step latency (median/p99) per backend at batch 1 and batched, real-time streams per core, peak memory, state per stream; or a long-run memory check')
    .argument('[model]', 'model file; default: random-weight models (--arch/--dim), or every variant at dim 256')
    .option('--arch <variant>', `random model of this variant: ${VARIANTS.join(' | ')}`)
    .option('--dim <n>', 'width of the random model', '256')
    .option('--seed <n>', 'seed of the random model and the input noise', '0')
    .option('--streams <list>', 'batch sizes to time (streams stepped together)', '1,8,64')
    .option('--backends <list>', `backends to time (default: every kernel tier here, then onnx if installed: ${defaultBackends().join(',')})`)
    .option('--steps <n>', 'most timed steps per measurement', '1000')
    .option('--min-steps <n>', 'fewest timed steps per measurement', '50')
    .option('--budget-ms <n>', 'time per measurement once --min-steps are in', '2000')
    .option('--int8', 'also time int8 weights (per-row scales) on every kernel tier')
    .option('--long-run [steps]', 'instead: step an engine for this many stream-steps (default 1000000) and check that memory does not grow')
    .option('--ttt', 'also time the test-time-training layer kinds (per-token median/p99, chunk-boundary cost) at width --dim, 4 heads (bench-ttt has every knob)')
    .option('--json', 'print one JSON object (machine-readable) instead of a table')
    .action(async (modelPath: string | undefined, opts: BenchOpts) => {
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new EdgestreamError('E_USAGE', `--seed must be an integer, got "${opts.seed}"`);
      const dim = positiveInt(opts.dim, '--dim', 8192);
      const streams = list(opts.streams, '--streams');
      const backends = opts.backends?.split(',').map((b) => parseBackend(b.trim())).filter((b): b is BackendName => b !== 'auto');
      if (opts.arch !== undefined && !(VARIANTS as readonly string[]).includes(opts.arch)) {
        throw new EdgestreamError('E_UNKNOWN_ARCH', `unknown --arch "${opts.arch}". Expected one of: ${VARIANTS.join(', ')}`);
      }
      if (modelPath && opts.arch) throw new EdgestreamError('E_USAGE', 'give a model file or --arch, not both');
      const progress = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };
      const models = (): BenchModel[] => {
        if (modelPath) return [{ label: modelPath, bytes: readFileBytes(modelPath) }];
        const variants = opts.arch ? [opts.arch as Variant] : STANDARD_VARIANTS;
        return variants.map((variant) => {
          progress(`building random ${variant} dim ${dim} (seed ${seed}, BatchNorm calibrated to natural spike rates)`);
          const r = randomLmuformerModel({ variant, dim, seed });
          return { label: `random ${variant} dim ${dim} seed ${seed}`, bytes: r.bytes, ...(Object.keys(r.spikeRates).length > 0 && { spikeRates: r.spikeRates }) };
        });
      };

      if (opts.longRun !== undefined) {
        const steps = opts.longRun === true ? 1_000_000 : positiveInt(opts.longRun, '--long-run', 1e12);
        const m = models()[0]!;
        const backend = backends?.[0] ?? 'auto';
        const model = await loadModel(m.bytes, { backend, intraOpNumThreads: 1 });
        const nStreams = streams[streams.length - 1]!;
        progress(`long run: ${steps} stream-steps of ${m.label} on ${model.backend}, ${nStreams} streams`);
        let last = 0;
        const r = await longRun(model, {
          steps, streams: nStreams, samples: 50, seed,
          progress: (done, total) => {
            const pct = Math.floor((100 * done) / total);
            if (pct >= last + 10 || done === total) { last = pct; progress(`long run ${pct} % (${done}/${total})`); }
          },
        });
        const report = { edgestream: VERSION, date: new Date().toISOString(), machine: machine(), model: m.label, backend: model.backend, limits: { heapGrowthBytes: HEAP_GROWTH_LIMIT, rssGrowthBytes: RSS_GROWTH_LIMIT }, ...r };
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
          process.stdout.write(
            `${r.pass ? 'PASS' : 'FAIL'}  ${r.steps} stream-steps (${r.streams} streams, ${r.reopened} closed and reopened) in ${r.seconds.toFixed(1)} s on ${model.backend}\n` +
            `heap growth after warm-up ${mb(r.heapGrowthBytes)} (limit ${mb(HEAP_GROWTH_LIMIT)}), RSS growth ${mb(r.rssGrowthBytes)} (limit ${mb(RSS_GROWTH_LIMIT)}), dropped frames ${r.dropped}\n`,
          );
        }
        if (!r.pass) process.exitCode = 1;
        return;
      }

      const report = await runBench(models(), {
        streams, ...(backends && { backends }), seed, int8: opts.int8 === true,
        steps: positiveInt(opts.steps, '--steps'), minSteps: positiveInt(opts.minSteps, '--min-steps'), budgetMs: positiveInt(opts.budgetMs, '--budget-ms'),
        progress,
      }, VERSION);
      // The TTT layers run on the best kernel tier (the onnx backend has no TTT graphs).
      const ttt = opts.ttt
        ? await runTttBench({ width: dim, heads: 4, backend: backends?.find((b) => b !== 'onnx') ?? 'auto' }, progress)
        : undefined;
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...report, ...(ttt && { ttt }) })}\n`);
      else process.stdout.write(formatTable(report) + (ttt ? `\ntest-time-training layers, width ${dim}, 4 heads:\n${formatTttTable(ttt)}` : ''));
    });
}

function formatTable(r: BenchReport): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`edgestream ${r.edgestream} · ${m.cpu} (${m.cores} cores) · node ${m.node} · onnxruntime-node ${m.onnxruntime ?? '-'} (1 intra-op thread)`);
  for (const mod of r.models) {
    lines.push('', `${mod.model}: ${mod.parameters.toLocaleString('en-US')} parameters, ${mod.macsPerFrame.toLocaleString('en-US')} MACs/frame; state/stream ${Object.entries(mod.stateBytesPerStream).map(([b, n]) => `${b} ${n} B`).join(', ')}`);
    const rates = Object.values(mod.spikeRates ?? {});
    const seen = mod.results.map((x) => x.spikeDensity).filter((d): d is number => d !== null);
    if (rates.length > 0 || seen.length > 0) {
      const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
      lines.push(`spiking layers: neurons fire at ${rates.length ? pct(rates.reduce((a, b) => a + b, 0) / rates.length) : '-'} on average (calibration input); spike layers' inputs were active ${seen.length ? pct(seen.reduce((a, b) => a + b, 0) / seen.length) : '-'} of the time in the timed steps`);
    }
    const head = ['backend', 'weights', 'batch', 'median µs', 'p99 µs', 'µs/stream', 'cpu µs/stream', '× onnx', '× batch-1', 'cpu × batch-1', 'streams/core @100fps'];
    const f = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
    const rows = mod.results.map((x) => [
      x.backend, x.weights, String(x.batch), x.medianUs.toFixed(1), x.p99Us.toFixed(1), x.perStreamUs.toFixed(1), x.cpuPerStreamUs.toFixed(1),
      f(x.vsOnnx), x.batch === 1 ? '' : f(x.vsBatch1), x.batch === 1 ? '' : f(x.cpuVsBatch1), String(x.realtimeStreamsPerCore),
    ]);
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    lines.push(head.map((h, i) => h.padStart(w[i]!)).join('  '));
    for (const row of rows) lines.push(row.map((c, i) => c.padStart(w[i]!)).join('  '));
  }
  lines.push('', `peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(1)} MiB`);
  return `${lines.join('\n')}\n`;
}
