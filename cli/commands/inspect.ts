import type { Command } from 'commander';
import { loadModel } from '../../runtime/model/load_model.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a model file: variant, dims, parameters, multiply-adds per frame, state per stream, delay')
    .argument('<model>', 'model file (.safetensors)')
    .option('--json', 'print JSON')
    .action(async (modelPath: string, opts: { json?: boolean }) => {
      const model = await loadModel(modelPath, { backend: /\.onnx$/i.test(modelPath) ? 'onnx' : 'js' }); // an ONNX step model runs only on onnx
      const d = model.describe();
      const info = {
        file: modelPath,
        name: model.name,
        modelVersion: model.modelVersion,
        arch: model.arch,
        variant: model.variant,
        ...d.details,
        parameters: d.parameters,
        macsPerFrame: d.macsPerFrame,
        stateBytesPerStream: d.stateBytesPerStream,
        delayFrames: d.delay,
        labels: model.labels,
        frontend: model.frontend,
        decision: model.decision,
        fingerprint: model.fingerprint,
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const lines: [string, unknown][] = [
        ['model', `${info.name} (${info.arch} / ${info.variant}, version ${info.modelVersion})`],
        ...Object.entries(d.details).filter(([k]) => k !== 'variant'),
        ['parameters', d.parameters.toLocaleString('en-US')],
        ['multiply-adds / frame', d.macsPerFrame.toLocaleString('en-US')],
        ['state / stream', `${d.stateBytesPerStream.toLocaleString('en-US')} bytes`],
        ['delay', `${d.delay} frames`],
        ['labels', model.labels.length > 8 ? `${model.labels.slice(0, 8).join(', ')}, … (${model.labels.length})` : model.labels.join(', ')],
        ['decision defaults', Object.keys(model.decision).length > 0 ? JSON.stringify(model.decision) : 'none stored (threshold 0.5)'],
        ['front end', model.frontend ? `${model.frontend.kind} ${model.frontend.melBins} mels @ ${model.frontend.sampleRate} Hz, ${model.frontend.frameShiftMs} ms hop` : 'none'],
        ['sha256', model.fingerprint],
      ];
      const w = Math.max(...lines.map(([k]) => k.length));
      for (const [k, v] of lines) process.stdout.write(`${k.padEnd(w)}  ${String(v)}\n`);
    });
}
