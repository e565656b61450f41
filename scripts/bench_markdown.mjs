#!/usr/bin/env node
// Renders the JSON of `edgestream bench --json` (a file, or stdin) as the Markdown tables of
// docs/benchmarks.md and docs/ttt.md, headed by the date, commit, machine and command that produced
// them, so that a re-measured table is pasted, never retyped.
//   node dist/cli/main.js bench --int8 --ttt --json > bench.json
//   node scripts/bench_markdown.mjs bench.json --command "npm run bench -- --int8"
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { command: { type: 'string' }, load: { type: 'string' } } });
const report = JSON.parse(readFileSync(positionals[0] ?? 0, 'utf8'));

let commit = 'unknown';
try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const m = report.machine;
const out = [];
out.push(`${report.date.slice(0, 10)}, commit \`${commit}\`, ${m.cpu} (${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB), ` +
  `node ${m.node}, onnxruntime-node ${m.onnxruntime ?? '(not installed)'} with ${report.settings.onnxThreads} intra-op thread` +
  `${values.load ? `, load average ${values.load}` : ''}; \`${values.command ?? 'edgestream bench --json'}\`. ` +
  'Bold: faster than onnxruntime-node at the same batch.');
out.push('');
out.push('| model | backend | weights | batch | median µs | p99 µs | µs / stream | CPU µs / stream | × onnx | × batch-1 (CPU) | streams/core @ 100 fps |');
out.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const f1 = (v) => v.toFixed(1);
const f2 = (v) => (v === null ? '' : v.toFixed(2));
for (const mod of report.models) {
  mod.results.forEach((r, i) => {
    const vsOnnx = r.vsOnnx !== null && r.vsOnnx < 1 && r.backend !== 'onnx' ? `**${f2(r.vsOnnx)}**` : f2(r.vsOnnx);
    out.push(`| ${i === 0 ? `\`${mod.variant}\`` : ''} | ${r.backend} | ${r.weights} | ${r.batch} | ${f1(r.medianUs)} | ${Math.round(r.p99Us)} | ` +
      `${f1(r.perStreamUs)} | ${f1(r.cpuPerStreamUs)} | ${vsOnnx} | ${r.batch === 1 ? '' : f2(r.cpuVsBatch1)} | ${r.realtimeStreamsPerCore} |`);
  });
}
out.push('');
const state = report.models.map((mod) => `\`${mod.variant}\` ${Object.entries(mod.stateBytesPerStream).map(([b, n]) => `${b} ${n.toLocaleString('en-US')} B`).join(', ')}`);
out.push(`State per stream: ${state.join('; ')}. Peak RSS of the whole run ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB.`);

if (report.ttt) {
  out.push('', '| kind | schedule | median µs | p99 µs | p99/median | boundary cost µs |', '|---|---|---|---|---|---|');
  for (const t of report.ttt) {
    out.push(`| ${t.kind} | ${t.schedule} | ${Math.round(t.medianUs)} | ${Math.round(t.p99Us)} | ${t.p99OverMedian.toFixed(2)} | +${Math.round(t.boundaryCostUs)} |`);
  }
}
process.stdout.write(`${out.join('\n')}\n`);
