import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { evaluateClips, type EvaluationReport, type LabelledClip } from '../../runtime/decisions/evaluate.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { writeFileAtomic } from '../../runtime/io/files.js';
import { lineChartSvg } from '../../runtime/report/line_chart_svg.js';
import { audioFileFrames, loadAudioModel } from '../audio_model.js';
import { BACKEND_HELP, INT8_HELP, parseNumber, THRESHOLD_HELP } from '../options.js';

/**
 * The label of a clip: the file-name prefix before `__` (`yes__voice3.wav`, `_unknown___x.wav`),
 * else the folder it is in (Speech Commands layout: `yes/0a7c2a8d_nohash_0.wav`).
 */
export function clipLabel(path: string): string {
  const name = basename(path);
  const m = /^(.+?)__/.exec(name);
  return m ? m[1]! : basename(dirname(path));
}

function findWavs(dir: string): string[] {
  const out: string[] = [];
  const visit = (p: string): void => {
    for (const name of readdirSync(p).sort()) {
      const f = join(p, name);
      if (statSync(f).isDirectory()) visit(f);
      else if (name.toLowerCase().endsWith('.wav')) out.push(f);
    }
  };
  visit(dir);
  return out;
}

function accuracyChart(r: EvaluationReport, title: string): string {
  return lineChartSvg({
    title,
    xLabel: 'fraction of the 1.28 s clip heard',
    yLabel: 'rate',
    yRange: [0, 1],
    xRange: [0, 1],
    series: [
      { name: 'top-1 (keywords)', points: r.curve.map((c) => [c.fraction, c.top1] as const) },
      { name: 'false accepts', points: r.curve.map((c) => [c.fraction, c.falseAcceptRate] as const) },
    ],
  });
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a keyword model on a folder of labelled WAVs: accuracy, confusion, false accepts, accuracy vs clip heard')
    .argument('<model>', 'model file (.safetensors) with an audio front end')
    .argument('<dir>', 'labelled clips: <label>__<id>.wav or <label>/<file>.wav; labels the model lacks count as negatives')
    .option('--out <report.json>', 'write the full report as JSON', 'eval-report.json')
    .option('--svg <chart.svg>', 'write the accuracy-over-the-clip chart', 'eval-accuracy.svg')
    .option('--threshold <p>', THRESHOLD_HELP)
    .option('--backend <backend>', BACKEND_HELP, 'auto')
    .option('--int8', INT8_HELP)
    .action(async (modelPath: string, dir: string, opts: { out: string; svg: string; threshold?: string; backend: string; int8?: boolean }) => {
      const { model, frontend } = await loadAudioModel(modelPath, opts.backend, opts.int8);
      const files = findWavs(dir);
      if (files.length === 0) throw new EdgestreamError('E_IO', `${dir}: no .wav files found`);
      const clips: LabelledClip[] = [];
      files.forEach((file, i) => {
        const { frames, warning } = audioFileFrames(file, frontend);
        if (warning) process.stderr.write(`eval: warning: ${warning}\n`);
        clips.push({ label: clipLabel(file), frames, name: file });
        if (process.stderr.isTTY) process.stderr.write(`\reval: features ${i + 1}/${files.length}`);
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      const report = evaluateClips(model, clips, opts.threshold !== undefined ? { threshold: parseNumber(opts.threshold, '--threshold') } : {});
      writeFileAtomic(opts.out, `${JSON.stringify({ model: model.name, dir, ...report }, null, 2)}\n`);
      writeFileAtomic(opts.svg, accuracyChart(report, `${model.name} on ${basename(dir)}`));
      const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
      process.stdout.write(
        `clips ${report.clips} (${report.keywordClips} keyword, ${report.negativeClips} negative)\n` +
        `top-1 ${pct(report.top1)}   detected ${pct(report.detectionRate)}   false accepts ${pct(report.falseAcceptRate)} (threshold ${report.threshold})\n` +
        `top-1 after hearing ${report.curve.map((c) => `${Math.round(c.fraction * 100)}%: ${pct(c.top1)}`).join(', ')}\n` +
        `report → ${opts.out}, chart → ${opts.svg}\n`,
      );
    });
}
