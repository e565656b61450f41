import type { Command } from 'commander';
import { chooseKernels, type SkippedTier } from '../../runtime/kernels/registry.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { resolveModelPath } from '../../runtime/model/shipped_models.js';

/** The kernel tier `backend: 'auto'` takes on this machine, and the faster ones it passes over. */
async function autoTier(): Promise<{ auto: string; skipped: SkippedTier[] }> {
  const { kernels, skipped } = await chooseKernels('auto');
  kernels.dispose?.();
  return { auto: kernels.tier, skipped };
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a model file: variant, dims, parameters, multiply-adds per frame, state per stream, delay')
    .argument('<model>', 'model file (.safetensors, .onnx) or a shipped model\'s name (kws12)')
    .option('--json', 'print JSON')
    .action(async (nameOrPath: string, opts: { json?: boolean }) => {
      const modelPath = resolveModelPath(nameOrPath);
      const onnx = /\.onnx$/i.test(modelPath);
      const model = await loadModel(modelPath, { backend: onnx ? 'onnx' : 'js' }); // an ONNX step model runs only on onnx
      const d = model.describe();
      const kernelTier = onnx ? null : await autoTier();
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
        ...(kernelTier && { kernelTier }),
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
        ...(kernelTier ? [['kernel tier (auto)', `${kernelTier.auto}${kernelTier.skipped.map((s) => `; not ${s.tier}: ${s.reason}`).join('')}`] as [string, unknown]] : []),
      ];
      const w = Math.max(...lines.map(([k]) => k.length));
      for (const [k, v] of lines) process.stdout.write(`${k.padEnd(w)}  ${String(v)}\n`);
    });
}
