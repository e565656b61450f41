import type { Command } from 'commander';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes, writeFileAtomic } from '../../runtime/io/files.js';
import { readNpy, writeNpy } from '../../runtime/io/npy.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { streamFrames } from '../../runtime/stream/stream_frames.js';
import { backendOption } from '../options.js';
import type { BackendName } from '../../runtime/model/model.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('stream feature frames through a model: [batch, frames, mels] → [frames, batch, classes] logits')
    .argument('<model>', 'model file (.safetensors)')
    .requiredOption('--features <in.npy>', 'float32 [batch, frames, mels] or [frames, mels]; each batch row is one stream')
    .requiredOption('--out <out.npy>', 'output logits [frames, batch, classes] (the official all_seq layout)')
    .addOption(backendOption())
    .action(async (modelPath: string, opts: { features: string; out: string; backend: BackendName | 'auto' }) => {
      const model = await loadModel(modelPath, { backend: opts.backend });
      const arr = readNpy(readFileBytes(opts.features), opts.features);
      if (arr.dtype !== '<f4' && arr.dtype !== '<f8') {
        throw new EdgestreamError('E_INPUT_SHAPE', `${opts.features}: dtype ${arr.dtype}; features must be float32 or float64`);
      }
      let batch: number, frames: number, dim: number;
      if (arr.shape.length === 3) [batch, frames, dim] = arr.shape as [number, number, number];
      else if (arr.shape.length === 2) { batch = 1; [frames, dim] = arr.shape as [number, number]; }
      else throw new EdgestreamError('E_INPUT_SHAPE', `${opts.features}: shape [${arr.shape.join(', ')}]; expected [batch, frames, ${model.inputDim}] or [frames, ${model.inputDim}]`);
      if (dim !== model.inputDim) {
        throw new EdgestreamError('E_INPUT_SHAPE', `${opts.features}: frames have ${dim} values but the model expects ${model.inputDim} (mel bins)`);
      }
      if (frames === 0 || batch === 0) throw new EdgestreamError('E_INPUT_SHAPE', `${opts.features}: no frames to predict`);
      const out = streamFrames(model, arr.data, batch, frames);
      writeFileAtomic(opts.out, writeNpy(out, [frames, batch, model.outputDim]));
      process.stderr.write(`predict: ${batch} stream(s) × ${frames} frames on ${model.backend} → ${opts.out}\n`);
    });
}
