import type { Command } from 'commander';
import { readFileBytes, writeFileAtomic } from '../../runtime/io/files.js';
import { exportStepModel } from '../../runtime/onnx/exporters.js';
import { decodeOnnx, readStepModel } from '../../runtime/onnx/step_convention.js';

export function registerExportOnnx(program: Command): void {
  program
    .command('export-onnx')
    .description('export a model to an ONNX step graph (one packed state tensor in and out; docs/onnx.md)')
    .argument('<model>', 'model file (.safetensors)')
    .requiredOption('-o, --out <model.onnx>', 'output ONNX file (written atomically)')
    .option('--no-check', 'skip loading the exported graph in onnxruntime-node')
    .action(async (modelPath: string, opts: { out: string; check: boolean }) => {
      const onnxBytes = exportStepModel(readFileBytes(modelPath), modelPath);
      const info = readStepModel(decodeOnnx(onnxBytes, opts.out), opts.out);
      if (opts.check) {
        const { OrtSession } = await import('../../runtime/onnx/ort.js');
        OrtSession.load(onnxBytes, opts.out).dispose();
      }
      writeFileAtomic(opts.out, onnxBytes);
      process.stdout.write(
        `exported ${modelPath} → ${opts.out} (${onnxBytes.length} bytes): frame [N, ${info.inputDim}], state [N, ${info.stateSize}] ` +
        `(${info.stateSize * 4} bytes per stream), end [N, 1] → output [N, ${info.outputDim}], ready [N, 1], state_out; delay ${info.delay}` +
        `${opts.check ? '; loads in onnxruntime-node' : ''}\n`,
      );
    });
}
