import type { Command } from 'commander';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes, writeFileAtomic } from '../../runtime/io/files.js';
import { importLmuformerCheckpoint } from '../../models/lmuformer/import_checkpoint.js';
import { VARIANTS, type Variant } from '../../models/lmuformer/variants.js';
import { parseLabels } from '../labels_file.js';
import { parseInteger, parseNumber, parseProbability } from '../options.js';
import { SCORE_ACTIVATIONS, type ScoreActivation } from '../../runtime/decisions/scores.js';
import type { DecisionDefaults } from '../../runtime/model/model_file.js';

interface ImportOptions {
  arch: string;
  labels?: string;
  name?: string;
  modelVersion?: string;
  threshold?: string;
  clipThreshold?: string;
  activation?: string;
  smoothFrames?: string;
  hysteresis?: string;
  refractoryMs?: string;
  peakFrames?: string;
  streamWindowFrames?: string;
  out: string;
}

/** The decision defaults given on the command line (validated again when the model file is read). */
function decisionDefaults(opts: ImportOptions): DecisionDefaults | undefined {
  const d: DecisionDefaults = {};
  if (opts.activation !== undefined) {
    if (!(SCORE_ACTIVATIONS as readonly string[]).includes(opts.activation)) {
      throw new EdgestreamError('E_USAGE', `--activation must be one of ${SCORE_ACTIVATIONS.join(', ')}, got "${opts.activation}"`);
    }
    d.activation = opts.activation as ScoreActivation;
  }
  if (opts.threshold !== undefined) d.threshold = parseProbability(opts.threshold, '--threshold');
  if (opts.clipThreshold !== undefined) d.clipThreshold = parseProbability(opts.clipThreshold, '--clip-threshold');
  if (opts.hysteresis !== undefined) d.hysteresis = parseProbability(opts.hysteresis, '--hysteresis');
  if (opts.smoothFrames !== undefined) d.smoothFrames = parseInteger(opts.smoothFrames, '--smooth-frames', 1, 100);
  if (opts.refractoryMs !== undefined) {
    const n = parseNumber(opts.refractoryMs, '--refractory-ms');
    if (n < 0 || n > 60_000) throw new EdgestreamError('E_USAGE', `--refractory-ms must be from 0 to 60000, got ${opts.refractoryMs}`);
    d.refractoryMs = n;
  }
  if (opts.peakFrames !== undefined) d.peakFrames = parseInteger(opts.peakFrames, '--peak-frames', 0, 300);
  if (opts.streamWindowFrames !== undefined) d.streamWindowFrames = parseInteger(opts.streamWindowFrames, '--stream-window-frames', 8, 10_000);
  return Object.keys(d).length > 0 ? d : undefined;
}

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
    .option('--clip-threshold <p>', 'threshold for whole clips (classify, eval of clips) when calibrated apart from the stream threshold')
    .option('--activation <sigmoid|softmax>', 'how the logits become scores: sigmoid (one-vs-rest training, the official recipe) or softmax (one decision over all labels, e.g. with _unknown_ and _silence_ classes)')
    .option('--smooth-frames <n>', 'stream detector default: frames of score smoothing')
    .option('--hysteresis <p>', 'stream detector default: how far a score must fall before its label fires again')
    .option('--refractory-ms <ms>', 'stream detector default: no event for this long after an event')
    .option('--peak-frames <n>', 'stream detector default: report the label that peaks highest within n frames of the first crossing (0: fire at the crossing)')
    .option('--stream-window-frames <n>', 'stream detector default: frames the classifier head averages over on continuous audio (default: the training clip length; clips are always padded to it)')
    .requiredOption('-o, --out <model.safetensors>', 'output model file (written atomically)')
    .action((checkpoint: string, opts: ImportOptions) => {
      if (opts.arch !== 'auto' && !(VARIANTS as readonly string[]).includes(opts.arch)) {
        throw new EdgestreamError('E_UNKNOWN_ARCH', `unknown --arch "${opts.arch}". Expected one of: ${VARIANTS.join(', ')}, auto`);
      }
      const result = importLmuformerCheckpoint(readFileBytes(checkpoint), {
        arch: opts.arch as Variant | 'auto',
        what: checkpoint,
        ...(opts.labels !== undefined && { labels: parseLabels(opts.labels) }),
        ...(opts.name !== undefined && { name: opts.name }),
        ...(opts.modelVersion !== undefined && { modelVersion: opts.modelVersion }),
        ...(decisionDefaults(opts) !== undefined && { decision: decisionDefaults(opts)! }),
      });
      writeFileAtomic(opts.out, result.bytes);
      const c = result.config;
      process.stdout.write(
        `imported ${result.variant}: dim ${c.dim}, depths ${c.depths}, mlp hidden ${c.mlpHidden}, ${c.mels} mels, ${c.classes} classes; ` +
        `${result.tensors} tensors (ignored ${result.ignored.length}: LMU H/fft_H buffers and BatchNorm counters) → ${opts.out} (${result.bytes.length} bytes)\n`,
      );
    });
}
