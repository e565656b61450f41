import type { Command } from 'commander';
import { classifyFrames } from '../../runtime/decisions/clip_classifier.js';
import { describeError, EdgestreamError } from '../../runtime/errors.js';
import { audioFileFrames, loadAudioModel } from '../audio_model.js';
import { backendOption, int8Option, thresholdOption } from '../options.js';
import type { BackendName } from '../../runtime/model/model.js';

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('classify audio clips (WAV) with a keyword model; one line (or JSON object) per file')
    .argument('<model>', 'model file (.safetensors) with an audio front end')
    .argument('<wav...>', 'audio clips')
    .option('--json', 'one JSON object per line: {file, label, score, detected}')
    .addOption(thresholdOption())
    .option('--scores', 'with --json, include every label\'s score')
    .addOption(backendOption())
    .addOption(int8Option())
    .action(async (modelPath: string, files: string[], opts: { json?: boolean; threshold?: number; scores?: boolean; backend: BackendName | 'auto'; int8?: boolean }) => {
      const { model, frontend } = await loadAudioModel(modelPath, opts.backend, opts.int8);
      const decision = opts.threshold !== undefined ? { threshold: opts.threshold } : {};
      let failed = 0;
      for (const file of files) {
        try {
          const { frames, warning } = await audioFileFrames(file, frontend);
          if (warning) process.stderr.write(`classify: warning: ${warning}\n`);
          const r = classifyFrames(model, frames, decision);
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ file, label: r.label, score: r.score, detected: r.detected, ...(opts.scores && { scores: r.scores }) })}\n`);
          } else {
            process.stdout.write(`${file}\t${r.label}\t${r.score.toFixed(3)}\t${r.detected ? 'detected' : '-'}\n`);
          }
        } catch (e) {
          if (!(e instanceof EdgestreamError)) throw e;
          failed++;
          // Other files still get classified; the error is reported in the same stream.
          if (opts.json) process.stdout.write(`${JSON.stringify({ file, error: { code: e.code, message: e.message } })}\n`);
          process.stderr.write(`edgestream: ${file}: ${describeError(e)}\n`);
        }
      }
      if (failed > 0) process.exitCode = 2;
    });
}
