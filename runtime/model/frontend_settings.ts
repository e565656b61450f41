import { z } from 'zod';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../audio/sample_rates.js';

/**
 * Bounds of what a model's audio front end can use. Every size a model file or an ONNX step model
 * declares for its front end is checked against them at load (docs/model-file.md, Limits), so a
 * hostile file cannot make `classify` pad a clip to a billion frames or build gigabyte tables.
 */
export const FRONTEND_LIMITS = {
  /** Mel filters per frame (the LMUFormer config allows the same number of inputs). */
  maxMelBins: 4096,
  /** Frame length and shift in ms: speech front ends use 10–50 ms; a second is the most a frame can mean. */
  maxFrameMs: 1000,
  /** Shortest frame shift in ms (1000 frames per second of audio at most). */
  minFrameShiftMs: 1,
  /** Samples in one analysis window (the FFT input). */
  maxWindowSamples: 1 << 16,
  /** Mel filter table entries (filters × FFT bins): 16 MiB of float32. */
  maxMelTable: 1 << 22,
  /** Frames per training clip: 100 s at a 10 ms shift (the decision window is bounded the same). */
  maxClipFrames: 10_000,
  /** Normalisation statistics of a log-mel value (whose magnitude stays below ~100). */
  maxAbsMean: 1e6,
  minStd: 1e-6,
  maxStd: 1e6,
} as const;

const L = FRONTEND_LIMITS;
const range = (lo: number | string, hi: number | string, unit = '') => `must be from ${lo} to ${hi}${unit}`;

/**
 * How audio becomes model input frames, stored in the model file so that a model carries the
 * front end it was trained with. The LMUFormer checkpoints expect torchaudio's Kaldi fbank with
 * the settings below, normalised as (fbank − mean) / (2·std), clips of 128 frames.
 */
export const FrontendSettingsSchema = z.object({
  kind: z.literal('kaldi-fbank'),
  sampleRate: z.number().int().min(MIN_SAMPLE_RATE, range(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, ' Hz')).max(MAX_SAMPLE_RATE, range(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, ' Hz')),
  melBins: z.number().int().min(1, range(1, L.maxMelBins)).max(L.maxMelBins, range(1, L.maxMelBins)),
  frameLengthMs: z.number().positive(range('more than 0', L.maxFrameMs, ' ms')).max(L.maxFrameMs, range('more than 0', L.maxFrameMs, ' ms')),
  frameShiftMs: z.number().min(L.minFrameShiftMs, range(L.minFrameShiftMs, L.maxFrameMs, ' ms')).max(L.maxFrameMs, range(L.minFrameShiftMs, L.maxFrameMs, ' ms')),
  window: z.enum(['hanning', 'hamming', 'povey', 'rectangular', 'blackman']),
  preemphasis: z.number().min(0).max(1),
  removeDcOffset: z.boolean(),
  lowFreq: z.number().min(0),
  /** Upper mel edge in Hz; ≤ 0 means Nyquist + highFreq (Kaldi's convention). */
  highFreq: z.number(),
  htkCompat: z.boolean(),
  useEnergy: z.boolean(),
  dither: z.number().min(0),
  /** Normalisation applied after the log: (x − mean) / (2·std); null = none. */
  normalize: z.object({
    mean: z.number().min(-L.maxAbsMean, range(-L.maxAbsMean, L.maxAbsMean)).max(L.maxAbsMean, range(-L.maxAbsMean, L.maxAbsMean)),
    std: z.number().min(L.minStd, range(L.minStd, L.maxStd)).max(L.maxStd, range(L.minStd, L.maxStd)),
  }).nullable(),
  /** Frames per training clip (the head is a mean over a clip of this length). */
  clipFrames: z.number().int().min(1, range(1, L.maxClipFrames, ' frames')).max(L.maxClipFrames, range(1, L.maxClipFrames, ' frames')),
}).superRefine((s, ctx) => {
  const problem = geometryProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
});

export type FrontendSettings = z.infer<typeof FrontendSettingsSchema>;

/**
 * What the fields imply together (as torchaudio computes it): window and shift in samples, the
 * FFT size, the mel table, the mel edges. Null when the settings make a usable front end.
 */
function geometryProblem(s: Pick<FrontendSettings, 'sampleRate' | 'frameLengthMs' | 'frameShiftMs' | 'melBins' | 'lowFreq' | 'highFreq'>): { field: string; message: string } | null {
  const windowSize = Math.trunc(s.sampleRate * s.frameLengthMs * 0.001);
  const windowShift = Math.trunc(s.sampleRate * s.frameShiftMs * 0.001);
  if (windowSize < 2 || windowSize > L.maxWindowSamples) {
    return { field: 'frameLengthMs', message: `gives a window of ${windowSize} samples at ${s.sampleRate} Hz; it must be from 2 to ${L.maxWindowSamples} samples` };
  }
  if (windowShift < 1) return { field: 'frameShiftMs', message: `gives a shift of ${windowShift} samples at ${s.sampleRate} Hz; it must be at least 1` };
  let fftSize = 1;
  while (fftSize < windowSize) fftSize *= 2;
  const table = s.melBins * (fftSize / 2 + 1);
  if (table > L.maxMelTable) {
    return { field: 'melBins', message: `${s.melBins} mel filters over ${fftSize / 2 + 1} FFT bins make a ${table}-entry table; at most ${L.maxMelTable} (fewer mels or a shorter frame)` };
  }
  const nyquist = s.sampleRate / 2;
  const high = s.highFreq <= 0 ? s.highFreq + nyquist : s.highFreq;
  if (!(s.lowFreq < nyquist && high > 0 && high <= nyquist && s.lowFreq < high)) {
    return { field: 'highFreq', message: `mel range ${s.lowFreq}–${high} Hz must satisfy 0 ≤ lowFreq < high ≤ Nyquist (${nyquist} Hz)` };
  }
  return null;
}

/** The official LMUFormer Speech Commands front end (specs/lmuformer.md, "Audio front end"). */
export const LMUFORMER_FRONTEND: FrontendSettings = Object.freeze({
  kind: 'kaldi-fbank',
  sampleRate: 16000,
  melBins: 128,
  frameLengthMs: 25,
  frameShiftMs: 10,
  window: 'hanning',
  preemphasis: 0.97,
  removeDcOffset: true,
  lowFreq: 20,
  highFreq: 0,
  htkCompat: true,
  useEnergy: false,
  dither: 0,
  normalize: { mean: -6.845978, std: 5.5654526 },
  clipFrames: 128,
}) as FrontendSettings;
