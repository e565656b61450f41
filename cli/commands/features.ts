import type { Command } from 'commander';
import { computeFeatures, type FeatureMatrix } from '../../runtime/audio/compute_features.js';
import { createAudioFrontend, type AudioFrontendOptions } from '../../runtime/audio/audio_frontend.js';
import { isPcmFormatName, PCM_FORMATS } from '../../runtime/audio/pcm_format.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { readFileBytes, writeFileAtomic } from '../../runtime/io/files.js';
import { writeNpy } from '../../runtime/io/npy.js';
import { LMUFORMER_FRONTEND, type FrontendSettings } from '../../runtime/model/frontend_settings.js';
import { decodeModelFile } from '../../runtime/model/model_file.js';
import { parseNumber } from '../options.js';

interface FeaturesOptions {
  out: string;
  normalize?: boolean;
  rate?: string;
  format?: string;
  channels?: string;
  model?: string;
}

/** Read stdin chunk by chunk through the streaming front end (what `listen` does live). */
async function featuresFromStdin(settings: FrontendSettings, options: AudioFrontendOptions): Promise<FeatureMatrix> {
  const fe = createAudioFrontend(settings, options);
  const frames: Float32Array[] = [];
  for await (const chunk of process.stdin) {
    for (const f of fe.push(chunk as Buffer)) frames.push(f);
  }
  frames.push(...fe.flush());
  const data = new Float32Array(frames.length * fe.featureSize);
  frames.forEach((f, i) => data.set(f, i * fe.featureSize));
  return { frames: frames.length, featureSize: fe.featureSize, data, normalized: fe.normalized, inputRate: fe.inputRate, audioInfo: fe.audioInfo, truncation: fe.truncation };
}

export function registerFeatures(program: Command): void {
  program
    .command('features')
    .description('compute the streaming front end\'s log-mel frames of a recording: [frames, mels] float32 .npy')
    .argument('<audio>', 'WAV file (PCM 8/16/24/32-bit or float, any rate, first channel used), raw PCM with --format, or - for stdin')
    .requiredOption('--out <fbank.npy>', 'output [frames, mels] float32 (written atomically)')
    .option('--normalize', 'normalise as the model sees it: (x − mean) / (2·std)')
    .option('--rate <hz>', 'sample rate of raw PCM input (WAV input: must match the header if given)')
    .option('--format <fmt>', `raw PCM sample format: ${Object.keys(PCM_FORMATS).join(', ')}`)
    .option('--channels <n>', 'interleaved channels of raw PCM input (the first is used)', '1')
    .option('--model <model>', 'take the front-end settings from this model file (default: the LMUFormer front end)')
    .action(async (input: string, opts: FeaturesOptions) => {
      let settings: FrontendSettings = LMUFORMER_FRONTEND;
      if (opts.model !== undefined) {
        const frontend = decodeModelFile(readFileBytes(opts.model), opts.model).metadata.frontend;
        if (!frontend) throw new EdgestreamError('E_CONFIG', `${opts.model}: the model has no audio front-end settings`);
        settings = frontend;
      }
      if (opts.format !== undefined && !isPcmFormatName(opts.format)) {
        throw new EdgestreamError('E_USAGE', `--format ${opts.format} is not known. Expected one of: ${Object.keys(PCM_FORMATS).join(', ')}`);
      }
      const options: AudioFrontendOptions = {
        what: input === '-' ? 'stdin' : input,
        normalize: opts.normalize === true,
        ...(opts.format !== undefined && { format: opts.format }),
        ...(opts.rate !== undefined && { inputRate: parseNumber(opts.rate, '--rate') }),
        ...(opts.channels !== undefined && { channels: parseNumber(opts.channels, '--channels') }),
      };
      if (opts.format !== undefined && opts.rate === undefined) {
        throw new EdgestreamError('E_USAGE', `raw PCM input (--format ${opts.format}) needs --rate <hz>`);
      }
      const result = input === '-' ? await featuresFromStdin(settings, options) : computeFeatures(readFileBytes(input), settings, options);
      writeFileAtomic(opts.out, writeNpy(result.data, [result.frames, result.featureSize]));
      const t = result.truncation;
      if (t) {
        process.stderr.write(`features: warning: ${options.what}: the data chunk declares ${t.declaredBytes} bytes but ${t.presentBytes} are present (file truncated); used the ${t.framesDecoded} whole samples there\n`);
      }
      const info = result.audioInfo;
      const source = info ? `${info.sampleRate} Hz ${info.formatLabel} ${info.channels === 1 ? 'mono' : `${info.channels} ch (first used)`}${info.container === 'raw' ? ' raw' : ''}` : `${result.inputRate ?? '?'} Hz`;
      process.stderr.write(`features: ${result.frames} frames × ${result.featureSize} ${result.normalized ? 'normalised' : 'raw log-mel'} from ${options.what} (${source}) → ${opts.out}\n`);
    });
}
