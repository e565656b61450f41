import type { Command } from 'commander';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes, writeFileAtomic } from '../../runtime/io/files.js';
import { importLmuformerCheckpoint } from '../../models/lmuformer/import_checkpoint.js';
import { VARIANTS, type Variant } from '../../models/lmuformer/variants.js';
import { parseLabels } from '../labels_file.js';
import { parseProbability } from '../options.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import an official LMUFormer PyTorch checkpoint (.pth) into an edgestream model file')
    .argument('<checkpoint>', 'best_model.pth (a torch.save state_dict; nothing in it is executed)')
    .requiredOption('--arch <variant>', `${VARIANTS.join(' | ')} | auto`)
    .option('--labels <file>', 'class labels, one per line (.txt) or the official class_labels_indices.csv')
    .option('--name <name>', 'model name published with predictions')
    .option('--model-version <v>', 'model version published with predictions')
    .option('--threshold <p>', 'default keyword threshold stored with the model (e.g. calibrated on validation data)')
    .requiredOption('-o, --out <model.safetensors>', 'output model file (written atomically)')
    .action((checkpoint: string, opts: { arch: string; labels?: string; name?: string; modelVersion?: string; threshold?: string; out: string }) => {
      if (opts.arch !== 'auto' && !(VARIANTS as readonly string[]).includes(opts.arch)) {
        throw new EdgestreamError('E_UNKNOWN_ARCH', `unknown --arch "${opts.arch}". Expected one of: ${VARIANTS.join(', ')}, auto`);
      }
      const result = importLmuformerCheckpoint(readFileBytes(checkpoint), {
        arch: opts.arch as Variant | 'auto',
        what: checkpoint,
        ...(opts.labels !== undefined && { labels: parseLabels(opts.labels) }),
        ...(opts.name !== undefined && { name: opts.name }),
        ...(opts.modelVersion !== undefined && { modelVersion: opts.modelVersion }),
        ...(opts.threshold !== undefined && { decision: { threshold: parseProbability(opts.threshold, '--threshold') } }),
      });
      writeFileAtomic(opts.out, result.bytes);
      const c = result.config;
      process.stdout.write(
        `imported ${result.variant}: dim ${c.dim}, depths ${c.depths}, mlp hidden ${c.mlpHidden}, ${c.mels} mels, ${c.classes} classes; ` +
        `${result.tensors} tensors (ignored ${result.ignored.length}: LMU H/fft_H buffers and BatchNorm counters) → ${opts.out} (${result.bytes.length} bytes)\n`,
      );
    });
}
