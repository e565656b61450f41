import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import type { DetPoint } from '../../runtime/decisions/det_curve.js';
import { evaluateClips, type EvaluationReport, type LabelledClip } from '../../runtime/decisions/evaluate.js';
import { evaluateStream, parseStreamTruth } from '../../runtime/decisions/stream_evaluation.js';
import { describeError, EdgestreamError } from '../../runtime/errors.js';
import { writeFileAtomic } from '../../runtime/io/files.js';
import { lineChartSvg } from '../../runtime/report/line_chart_svg.js';
import { audioFileFrames, loadAudioModel } from '../audio_model.js';
import { backendOption, int8Option, parseNumber, thresholdOption } from '../options.js';
import type { BackendName } from '../../runtime/model/model.js';

/**
 * The label of a clip: the file-name prefix before `__` (`yes__voice3.wav`, `_unknown___x.wav`),
 * else the folder it is in (Speech Commands layout: `yes/0a7c2a8d_nohash_0.wav`).
 */
export function clipLabel(path: string): string {
  const name = basename(path);
  const m = /^(.+?)__/.exec(name);
  return m ? m[1]! : basename(dirname(path));
}

const AUDIO_EXT = new Set(['.wav', '.flac']);
/** Speech Commands keeps its long noise recordings here: noise to mix, not clips to classify. */
const NOISE_DIR = '_background_noise_';

function findClips(dir: string): string[] {
  const out: string[] = [];
  const visit = (p: string): void => {
    for (const name of readdirSync(p).sort()) {
      const f = join(p, name);
      if (statSync(f).isDirectory()) {
        if (name !== NOISE_DIR) visit(f);
      } else if (AUDIO_EXT.has(extname(name).toLowerCase())) out.push(f);
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

/** Miss rate against false accepts per hour (log scale), the operating threshold marked. */
export function detChart(det: readonly DetPoint[], threshold: number, title: string): string {
  const points = det.filter((p) => p.falseAcceptsPerHour > 0).map((p) => [p.falseAcceptsPerHour, p.missRate] as const);
  const op = det.reduce((a, b) => (Math.abs(b.threshold - threshold) < Math.abs(a.threshold - threshold) ? b : a));
  return lineChartSvg({
    title, xLabel: 'false accepts per hour (log scale)', yLabel: 'miss rate', yRange: [0, 1], xLog: true,
    series: [{ name: 'thresholds 0–1', points }],
    markers: [{ x: op.falseAcceptsPerHour, y: op.missRate, label: `threshold ${threshold}` }],
  });
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

interface EvalOptions {
  out: string;
  svg?: string;
  detSvg?: string;
  truth?: string;
  threshold?: number;
  warmupMs: string;
  strict?: boolean;
  backend: BackendName | 'auto';
  int8?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a keyword model: on a folder of labelled clips (accuracy, confusion, false accepts, DET curve), or on a long recording with a truth file (commands found, false alarms per minute)')
    .argument('<model>', 'model file (.safetensors) with an audio front end')
    .argument('<input>', 'a folder of labelled clips (<label>__<id>.wav|flac or <label>/<file>.wav|flac; labels the model lacks count as negatives, _background_noise_/ is skipped), or a recording for a stream evaluation')
    .option('--truth <file.json>', 'stream evaluation: what was said when, {"seconds", "events": [{"label", "start_ms", "end_ms"}]} (default: the recording\'s name with .json)')
    .option('--out <report.json>', 'write the full report as JSON', 'eval-report.json')
    .option('--svg <chart.svg>', 'clips: write the accuracy-over-the-clip chart (default: next to --out, <out>-accuracy.svg)')
    .option('--det-svg <chart.svg>', 'write the DET curve (miss rate against false accepts per hour; default: next to --out, <out>-det.svg)')
    .addOption(thresholdOption())
    .option('--warmup-ms <ms>', 'stream evaluation: no events in the first <ms>, as listen', '1000')
    .option('--strict', 'clips: stop at the first file that cannot be read (default: report it and go on)')
    .addOption(backendOption())
    .addOption(int8Option())
    .action(async (modelPath: string, input: string, opts: EvalOptions) => {
      const { model, frontend } = await loadAudioModel(modelPath, opts.backend, opts.int8);
      // Charts go next to the report unless named: two runs with different --out keep theirs apart.
      const stem = opts.out.replace(/\.json$/i, '');
      const detSvg = opts.detSvg ?? `${stem}-det.svg`;
      const accuracySvg = opts.svg ?? `${stem}-accuracy.svg`;
      const decision = opts.threshold !== undefined ? { threshold: opts.threshold } : {};
      let isDir: boolean;
      try {
        isDir = statSync(input).isDirectory();
      } catch (e) {
        throw new EdgestreamError('E_IO', `${input}: ${(e as Error).message}`);
      }
      if (!isDir) {
        const truthPath = opts.truth ?? input.replace(/\.[^./]+$/, '') + '.json';
        let truthJson: unknown;
        try {
          truthJson = JSON.parse(readFileSync(truthPath, 'utf8'));
        } catch (e) {
          throw new EdgestreamError('E_TRUTH_FORMAT', `${truthPath}: ${(e as Error).message} (a stream evaluation needs a truth file: --truth)`);
        }
        const truth = parseStreamTruth(truthJson, truthPath);
        const warmupMs = parseNumber(opts.warmupMs, '--warmup-ms');
        const { frames, warning } = await audioFileFrames(input, frontend);
        if (warning) process.stderr.write(`eval: warning: ${warning}\n`);
        const r = evaluateStream(model, frames, truth, { decision, warmupMs });
        writeFileAtomic(opts.out, `${JSON.stringify({ model: model.name, recording: input, truth: truthPath, ...r }, null, 2)}\n`);
        writeFileAtomic(detSvg, detChart(r.det, r.threshold, `${model.name}: ${basename(input)} (${r.minutes.toFixed(1)} min)`));
        process.stdout.write(
          `recording ${r.minutes.toFixed(2)} min, ${r.commands} commands said\n` +
          `found ${r.found}/${r.commands} (${pct(r.foundRate)})   false alarms ${r.falseAlarms} (${r.falseAlarmsPerMinute.toFixed(2)} per minute: ` +
          `${r.wrongLabel} wrong label, ${r.duplicates} repeated, ${r.elsewhere} elsewhere) at threshold ${r.threshold}\n` +
          `per command: ${Object.entries(r.perLabel).map(([l, p]) => `${l} ${p.found}/${p.said}`).join(', ')}\n` +
          `report → ${opts.out}, DET curve → ${detSvg}\n`,
        );
        return;
      }
      const files = findClips(input);
      if (files.length === 0) throw new EdgestreamError('E_IO', `${input}: no .wav files or .flac files found`);
      const clips: LabelledClip[] = [];
      const skipped: { file: string; error: string }[] = [];
      for (const [i, file] of files.entries()) {
        try {
          const { frames, warning } = await audioFileFrames(file, frontend);
          if (warning) process.stderr.write(`eval: warning: ${warning}\n`);
          clips.push({ label: clipLabel(file), frames, name: file });
        } catch (e) {
          if (!(e instanceof EdgestreamError) || opts.strict) throw e;
          skipped.push({ file, error: describeError(e) });
          process.stderr.write(`eval: skipped ${file}: ${describeError(e)}\n`);
        }
        if (process.stderr.isTTY) process.stderr.write(`\reval: features ${i + 1}/${files.length}`);
      }
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (clips.length === 0) throw new EdgestreamError('E_AUDIO_FORMAT', `${input}: none of the ${files.length} files could be read`);
      const report = evaluateClips(model, clips, decision);
      writeFileAtomic(opts.out, `${JSON.stringify({ model: model.name, dir: input, skipped, ...report }, null, 2)}\n`);
      writeFileAtomic(accuracySvg, accuracyChart(report, `${model.name} on ${basename(input)}`));
      writeFileAtomic(detSvg, detChart(report.det, report.threshold, `${model.name} on ${basename(input)}: DET`));
      const classes = Object.entries(report.perClass).sort(([a], [b]) => a.localeCompare(b));
      process.stdout.write(
        `clips ${report.clips} (${report.keywordClips} keyword, ${report.negativeClips} negative)${skipped.length ? `, ${skipped.length} skipped (unreadable)` : ''}\n` +
        `top-1 ${pct(report.top1)}   detected ${pct(report.detectionRate)}   false accepts ${pct(report.falseAcceptRate)} ` +
        `(${report.falseAcceptsPerHour.toFixed(1)} per hour of negative clips) at threshold ${report.threshold}\n` +
        (report.accuracy !== null ? `accuracy over all ${model.labels.length} labels ${pct(report.accuracy)}\n` : '') +
        `per label: ${classes.map(([l, c]) => `${l} ${pct(c.accuracy)} (${c.clips})`).join(', ')}\n` +
        `top-1 after hearing ${report.curve.map((c) => `${Math.round(c.fraction * 100)}%: ${pct(c.top1)}`).join(', ')}\n` +
        `report → ${opts.out}, charts → ${accuracySvg}, ${detSvg}\n`,
      );
    });
}
