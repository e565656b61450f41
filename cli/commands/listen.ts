import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { Observable, lastValueFrom, defaultIfEmpty, tap } from 'rxjs';
import { createAudioDecoder } from '../../runtime/audio/audio_decoder.js';
import { decodeFlac, isFlac } from '../../runtime/audio/flac_file.js';
import { readFileBytes } from '../../runtime/io/files.js';
import type { PcmFormatName } from '../../runtime/audio/pcm_format.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk } from '../../runtime/operators/types.js';
import { loadAudioModel } from '../audio_model.js';
import { backendOption, int8Option, parseNumber, thresholdOption } from '../options.js';
import type { BackendName } from '../../runtime/model/model.js';

interface ListenOptions {
  json?: boolean;
  format?: string;
  rate?: string;
  channels?: string;
  threshold?: number;
  warmupMs: string;
  device: string;
  backend: BackendName | 'auto';
  int8?: boolean;
}

/** Audio shorter than the warm-up plus this, with no event, gets a note on why (a lone clip). */
const SHORT_AUDIO_MARGIN_MS = 1500;

/** Audio bytes from a file or stdin → decoded mono float chunks (WAV header or raw PCM). */
function audioChunks(input: Readable, what: string, device: string, opts: ListenOptions): Observable<AudioChunk> {
  const decoder = createAudioDecoder({
    what,
    ...(opts.format !== undefined
      ? { container: 'raw' as const, format: opts.format as PcmFormatName, sampleRate: parseNumber(opts.rate ?? '16000', '--rate'), channels: parseNumber(opts.channels ?? '1', '--channels') }
      : { container: 'auto' as const }),
  });
  return new Observable<AudioChunk>((subscriber) => {
    const emit = (samples: Float32Array): void => {
      if (samples.length === 0) return;
      subscriber.next({ device, kind: 'chunk', data: samples, format: { encoding: 'f32le', rate: decoder.info!.sampleRate, channels: 1 } });
    };
    const onData = (buf: Buffer): void => {
      try {
        emit(decoder.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)));
      } catch (e) {
        subscriber.error(e);
      }
    };
    input.on('data', onData);
    input.once('error', (e) => subscriber.error(new EdgestreamError('E_IO', `${what}: ${e.message}`)));
    input.once('end', () => {
      try {
        emit(decoder.end());
        subscriber.complete();
      } catch (e) {
        subscriber.error(e);
      }
    });
    return () => {
      input.off('data', onData);
      if (input !== process.stdin) input.destroy();
    };
  });
}

/** A FLAC file, decoded whole (FLAC needs its own decoder), as chunks of 20 ms. */
function flacChunks(path: string, device: string): Observable<AudioChunk> {
  return new Observable<AudioChunk>((subscriber) => {
    decodeFlac(readFileBytes(path), path).then((audio) => {
      const step = Math.max(1, Math.round(audio.sampleRate / 50));
      for (let i = 0; i < audio.samples.length && !subscriber.closed; i += step) {
        subscriber.next({ device, kind: 'chunk', data: audio.samples.subarray(i, i + step), format: { encoding: 'f32le', rate: audio.sampleRate, channels: 1 } });
      }
      subscriber.complete();
    }, (e: unknown) => subscriber.error(e));
  });
}

/** Whether a file starts with the FLAC marker (stdin and raw PCM never do). */
function looksLikeFlac(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    const head = new Uint8Array(4);
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    return isFlac(head);
  } catch {
    return false; // the read stream reports the error
  }
}

export function registerListen(program: Command): void {
  program
    .command('listen')
    .description('continuous keyword detection on a long recording or live PCM on stdin; one event per line')
    .argument('<model>', 'model file (.safetensors) with an audio front end')
    .argument('<audio>', 'a WAV or FLAC file, a raw PCM file (with --format), or - for stdin (e.g. arecord … | edgestream listen model -)')
    .option('--json', 'print each event as the MQTT keyword event JSON')
    .option('--format <pcm>', 'raw PCM input without a WAV header: s16le | f32le (default: detect a WAV header)')
    .option('--rate <hz>', 'sample rate of raw PCM input', '16000')
    .option('--channels <n>', 'interleaved channels of raw PCM input (the first is used)', '1')
    .addOption(thresholdOption())
    .option('--warmup-ms <ms>', 'no events in the first <ms> of the stream, while the model has heard less than its window (0 for short clips)', '1000')
    .option('--device <id>', 'device id the events carry', 'cli')
    .addOption(backendOption())
    .addOption(int8Option())
    .action(async (modelPath: string, audio: string, opts: ListenOptions) => {
      if (!/^[A-Za-z0-9_-]+$/.test(opts.device)) throw new EdgestreamError('E_USAGE', `--device must match [A-Za-z0-9_-]+, got "${opts.device}"`);
      if (opts.format !== undefined && opts.format !== 's16le' && opts.format !== 'f32le') {
        throw new EdgestreamError('E_USAGE', `--format must be s16le or f32le, got "${opts.format}"`);
      }
      const warmupMs = parseNumber(opts.warmupMs, '--warmup-ms');
      if (warmupMs < 0) throw new EdgestreamError('E_USAGE', `--warmup-ms must be 0 or more, got ${opts.warmupMs}`);
      const { model } = await loadAudioModel(modelPath, opts.backend, opts.int8);
      const flac = audio !== '-' && opts.format === undefined && looksLikeFlac(audio);
      const what = audio === '-' ? 'stdin' : audio;
      const decision = opts.threshold !== undefined ? { threshold: opts.threshold } : {};
      let events = 0;
      let audioMs = 0;
      await lastValueFrom(
        (flac ? flacChunks(audio, opts.device) : audioChunks(audio === '-' ? process.stdin : createReadStream(audio), what, opts.device, opts)).pipe(
          tap((c) => (audioMs += (c.data.length / c.format.rate) * 1000)),
          keywordSpotting(model, { decision, warmupMs }),
          tap((out) => {
            if (out.type !== 'keyword') return;
            events++;
            const e = out.event;
            if (opts.json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else process.stdout.write(`${(e.start_ms / 1000).toFixed(2).padStart(8)} s – ${(e.end_ms / 1000).toFixed(2)} s  ${e.label.padEnd(10)} ${e.score.toFixed(3)}\n`);
          }),
          defaultIfEmpty(null),
        ),
      );
      if (!opts.json) process.stderr.write(`listen: ${events} keyword event(s)\n`);
      // A lone clip is mostly warm-up: say why it is silent, and what decides single clips.
      if (events === 0 && warmupMs > 0 && audioMs < warmupMs + SHORT_AUDIO_MARGIN_MS) {
        process.stderr.write(`listen: ${what} is ${(audioMs / 1000).toFixed(2)} s long, and events in a stream's first ${warmupMs} ms are held back (--warmup-ms 0 keeps them); \`edgestream classify\` decides single clips\n`);
      }
    });
}
