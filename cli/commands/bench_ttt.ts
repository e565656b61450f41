import type { Command } from 'commander';
import { BENCH_KINDS, runTttBench, type BenchKind } from '../../models/ttt/bench.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { parseBackend, parseNumber } from '../options.js';

export function registerBenchTtt(program: Command): void {
  program
    .command('bench-ttt')
    .description('per-token latency (median, p99) and chunk-boundary cost of each TTT layer kind at an edge size')
    .option('--width <n>', 'model width', '256')
    .option('--heads <n>', 'heads (TTT heads, LaCT attention and fast-weight heads)', '4')
    .option('--tokens <n>', 'timed tokens per kind', '1024')
    .option('--chunk <n>', 'LaCT chunk size', '64')
    .option('--window <n>', 'LaCT sliding-window size', '64')
    .option('--spread <n>', 'tokens the Muon update is spread over (lact_muon_spread)', '32')
    .option('--kinds <list>', `comma-separated: ${BENCH_KINDS.join(',')}`)
    .option('--backend <backend>', 'auto | js | wasm | wasm-relaxed', 'auto')
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const int = (k: string): number => {
        const n = parseNumber(String(opts[k]), `--${k}`);
        if (!Number.isInteger(n) || n <= 0) throw new EdgestreamError('E_USAGE', `--${k} must be a positive integer`);
        return n;
      };
      const kinds = typeof opts.kinds === 'string' ? opts.kinds.split(',').map((k) => k.trim()) : undefined;
      for (const k of kinds ?? []) if (!(BENCH_KINDS as readonly string[]).includes(k)) throw new EdgestreamError('E_USAGE', `unknown kind "${k}". Expected: ${BENCH_KINDS.join(', ')}`);
      const backend = parseBackend(String(opts.backend));
      const results = await runTttBench({
        width: int('width'), heads: int('heads'), tokens: int('tokens'), chunk: int('chunk'), window: int('window'), spread: int('spread'),
        ...(kinds && { kinds: kinds as BenchKind[] }), backend,
      }, opts.json ? undefined : (line) => process.stderr.write(`bench-ttt: ${line}\n`));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ bench: 'ttt', results }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatTttTable(results));
    });
}

/** The TTT layer results as a text table (also printed by `edgestream bench --ttt`). */
export function formatTttTable(results: Awaited<ReturnType<typeof runTttBench>>): string {
  const lines = ['kind              tier  schedule                    median µs   p99 µs   p99/med  boundary cost µs'];
  for (const r of results) {
    lines.push(`${r.kind.padEnd(17)} ${r.tier.padEnd(5)} ${r.schedule.padEnd(27)} ${r.medianUs.toFixed(1).padStart(9)} ${r.p99Us.toFixed(1).padStart(8)} ${r.p99OverMedian.toFixed(2).padStart(8)} ${r.boundaryCostUs.toFixed(1).padStart(17)}`);
  }
  return `${lines.join('\n')}\n`;
}
