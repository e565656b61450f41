import { z } from 'zod';

/**
 * How audio becomes model input frames, stored in the model file so that a model carries the
 * front end it was trained with. The LMUFormer checkpoints expect torchaudio's Kaldi fbank with
 * the settings below, normalised as (fbank − mean) / (2·std), clips of 128 frames.
 */
export const FrontendSettingsSchema = z.object({
  kind: z.literal('kaldi-fbank'),
  sampleRate: z.number().int().positive(),
  melBins: z.number().int().positive(),
  frameLengthMs: z.number().positive(),
  frameShiftMs: z.number().positive(),
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
  normalize: z.object({ mean: z.number(), std: z.number().positive() }).nullable(),
  /** Frames per training clip (the head is a mean over a clip of this length). */
  clipFrames: z.number().int().positive(),
});

export type FrontendSettings = z.infer<typeof FrontendSettingsSchema>;

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
