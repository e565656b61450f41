import FFT from 'fft.js';
import { EdgestreamError } from '../errors.js';
import { FrontendSettingsSchema, type FrontendSettings } from '../model/frontend_settings.js';
import { featureWindow } from './feature_window.js';
import { kaldiMelBanks } from './mel_banks.js';
import { melByBin, type MelByBin } from './mel_by_bin.js';

/** float32 machine epsilon: torchaudio's floor before the log. */
export const FLOAT32_EPS = 1.1920928955078125e-7;
/** torchaudio `fbank`'s default `energy_floor` (Kaldi's own default is 0, no floor). */
export const ENERGY_FLOOR = 1.0;
/** Input processed per round (bounds the sample buffer; a 20 ms chunk at 16 kHz is 320 samples). */
const BLOCK = 1024;

/** Frame geometry derived from the settings, computed as torchaudio does (truncating). */
export interface FbankGeometry {
  /** Samples per frame (25 ms at 16 kHz: 400). */
  windowSize: number;
  /** Samples between frame starts (10 ms: 160). */
  windowShift: number;
  /** FFT size: the window padded to a power of two (512). */
  fftSize: number;
  /** Values per frame: mel bins, plus one log-energy when `useEnergy`. */
  numFeatures: number;
}

/** Validate front-end settings (throws `E_CONFIG`) and derive the frame geometry. */
export function fbankGeometry(settings: FrontendSettings): FbankGeometry {
  const parsed = FrontendSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    throw new EdgestreamError('E_CONFIG', `front-end settings are not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const s = parsed.data;
  // Same expression order as torchaudio: int(sample_frequency * frame_length * 0.001).
  const windowSize = Math.trunc(s.sampleRate * s.frameLengthMs * 0.001);
  const windowShift = Math.trunc(s.sampleRate * s.frameShiftMs * 0.001);
  if (windowSize < 2 || windowShift < 1) {
    throw new EdgestreamError('E_CONFIG', `front-end frames of ${s.frameLengthMs} ms every ${s.frameShiftMs} ms at ${s.sampleRate} Hz are ${windowSize} samples every ${windowShift}; need at least 2 and 1`);
  }
  if (windowSize > 1 << 16) throw new EdgestreamError('E_CONFIG', `front-end frame of ${windowSize} samples is too long (at most 65536)`);
  let fftSize = 1;
  while (fftSize < windowSize) fftSize *= 2;
  return { windowSize, windowShift, fftSize, numFeatures: s.melBins + (s.useEnergy ? 1 : 0) };
}

/**
 * What every filterbank with the same settings shares: read-only tables, and the scratch space of
 * one frame (only used inside a synchronous `computeFrame`, which calls nothing that could start
 * another frame), so that a filterbank's own memory is its sample buffer and its output.
 */
interface FbankTables {
  geometry: FbankGeometry;
  window: Float64Array;
  melByBin: Readonly<MelByBin>;
  fft: FFT;
  /** The windowed frame, zero-padded to the FFT size (the padding is never written). */
  frame: Float64Array;
  spectrum: Float64Array;
  /** Mel filter energies of the current frame, plus the spare "no filter" slot of `melByBin`. */
  melEnergy: Float64Array;
}

/**
 * Tables per distinct settings: a service creates one filterbank per device from the model's
 * settings, and a hundred devices appearing at once should not validate the settings and build
 * the same window, FFT and mel tables a hundred times.
 */
const tablesBySettings = new Map<string, FbankTables>();

function fbankTables(settings: FrontendSettings): FbankTables {
  const key = JSON.stringify(settings);
  let t = tablesBySettings.get(key);
  if (!t) {
    const geometry = fbankGeometry(settings);
    t = {
      geometry,
      window: featureWindow(settings.window, geometry.windowSize),
      melByBin: melByBin(kaldiMelBanks(settings.melBins, geometry.fftSize, settings.sampleRate, settings.lowFreq, settings.highFreq)),
      fft: new FFT(geometry.fftSize),
      frame: new Float64Array(geometry.fftSize),
      spectrum: new Float64Array(2 * geometry.fftSize),
      melEnergy: new Float64Array(settings.melBins + 1),
    };
    if (tablesBySettings.size >= 16) tablesBySettings.delete(tablesBySettings.keys().next().value!);
    tablesBySettings.set(key, t);
  }
  return t;
}

/** Receives each finished frame; the array is reused for the next frame, so copy it to keep it. */
export type FrameSink = (frame: Float32Array) => void;

/**
 * Kaldi-compatible log-mel filterbank, computed incrementally: samples (at `settings.sampleRate`,
 * float in [-1, 1]) go in, in chunks of any size, and every 25 ms frame is produced as soon as its
 * last sample arrives. Equal to torchaudio's `compliance.kaldi.fbank` with the same settings
 * (snip_edges, per-frame DC removal, raw energy, pre-emphasis, window, power spectrum, mel,
 * log with a float32-eps floor), optionally normalised as (x − mean) / (2·std).
 *
 * Arithmetic is float64 from the float32 samples on, so the only differences from torchaudio
 * are its own float32 roundings.
 */
export class KaldiFbank {
  readonly settings: FrontendSettings;
  readonly geometry: FbankGeometry;
  /** Whether frames come out normalised. */
  readonly normalized: boolean;
  private readonly window: Float64Array;
  private readonly melByBin: Readonly<MelByBin>;
  private readonly fft: FFT;
  /** One frame's scratch space, shared with every filterbank of the same settings (`FbankTables`). */
  private readonly frameBuf: Float64Array;
  private readonly spectrum: Float64Array;
  private readonly melEnergy: Float64Array;
  private readonly out: Float32Array;
  /** Settings and layout read by every frame, resolved once. */
  private readonly windowSize: number;
  private readonly dither: number;
  private readonly removeDcOffset: boolean;
  private readonly preemphasis: number;
  private readonly numBins: number;
  /** Where the mel bins and the log-energy (−1: none) go in a frame. */
  private readonly melAt: number;
  private readonly energyAt: number;
  /** Normalisation (x − normMean) · normScale, used when `normalized`. */
  private readonly normMean: number;
  private readonly normScale: number;
  /** Samples not yet consumed: buf[i] is absolute sample bufBase + i. */
  private readonly buf: Float64Array;
  private bufBase = 0;
  private bufLength = 0;
  /** Absolute index of the first sample of the next frame. */
  private nextStart = 0;
  private frames = 0;
  /** Gaussian noise for `dither` > 0, seeded so that features are reproducible. */
  private readonly ditherSeed: number;
  private rng: () => number;

  constructor(settings: FrontendSettings, options: { normalize?: boolean; ditherSeed?: number } = {}) {
    const tables = fbankTables(settings);
    this.geometry = tables.geometry;
    this.settings = settings;
    const { windowSize, numFeatures } = this.geometry;
    this.window = tables.window;
    this.melByBin = tables.melByBin;
    this.fft = tables.fft;
    this.frameBuf = tables.frame;
    this.spectrum = tables.spectrum;
    this.melEnergy = tables.melEnergy;
    this.out = new Float32Array(numFeatures);
    this.buf = new Float64Array(windowSize + BLOCK);
    const normalize = options.normalize ?? false;
    if (normalize && !settings.normalize) {
      throw new EdgestreamError('E_CONFIG', 'normalisation requested but the front-end settings have no normalize {mean, std}');
    }
    this.normalized = normalize;
    this.normMean = normalize && settings.normalize ? settings.normalize.mean : 0;
    this.normScale = normalize && settings.normalize ? 1 / (2 * settings.normalize.std) : 1;
    this.windowSize = windowSize;
    this.dither = settings.dither;
    this.removeDcOffset = settings.removeDcOffset;
    this.preemphasis = settings.preemphasis;
    this.numBins = settings.melBins;
    // Kaldi puts the log-energy first, HTK last.
    const energyFirst = settings.useEnergy && !settings.htkCompat;
    this.melAt = energyFirst ? 1 : 0;
    this.energyAt = !settings.useEnergy ? -1 : energyFirst ? 0 : this.numBins;
    this.ditherSeed = options.ditherSeed ?? 0x9e3779b9;
    this.rng = gaussian(this.ditherSeed);
  }

  /** Frames produced since the start (or the last reset). */
  get framesEmitted(): number {
    return this.frames;
  }

  /** Samples buffered towards the next frame. */
  get pendingSamples(): number {
    return Math.max(0, this.bufBase + this.bufLength - this.nextStart);
  }

  /** Add samples; `onFrame` is called for each frame they complete, in order. */
  process(samples: Float32Array | Float64Array, onFrame: FrameSink): void {
    const { windowSize, windowShift } = this.geometry;
    for (let start = 0; start < samples.length; start += BLOCK) {
      const block = samples.subarray(start, Math.min(samples.length, start + BLOCK));
      this.compact();
      this.buf.set(block, this.bufLength);
      this.bufLength += block.length;
      while (this.nextStart + windowSize <= this.bufBase + this.bufLength) {
        this.computeFrame(this.nextStart - this.bufBase);
        this.nextStart += windowShift;
        this.frames++;
        onFrame(this.out);
      }
    }
  }

  /** Add samples and return copies of the frames they complete. */
  push(samples: Float32Array | Float64Array): Float32Array[] {
    const frames: Float32Array[] = [];
    this.process(samples, (f) => frames.push(f.slice()));
    return frames;
  }

  /** Start a new stream. (With snip_edges there is nothing to flush: a partial frame is dropped.) */
  reset(): void {
    this.bufBase = 0;
    this.bufLength = 0;
    this.nextStart = 0;
    this.frames = 0;
    this.rng = gaussian(this.ditherSeed);
  }

  private compact(): void {
    const drop = Math.min(this.nextStart, this.bufBase + this.bufLength) - this.bufBase;
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.bufLength);
    this.bufBase += drop;
    this.bufLength -= drop;
  }

  /**
   * One frame from buf[offset …], into `this.out`. Allocates nothing.
   *
   * The arithmetic is torchaudio's steps in order (dither, DC removal, raw energy, pre-emphasis,
   * window, FFT, power, mel, log), each value computed by the same operations as doing every step
   * over the whole frame, so results are bit-identical to that; the steps are only fused into as
   * few passes as that allows.
   */
  private computeFrame(offset: number): void {
    const n = this.windowSize;
    const x = this.frameBuf;
    const w = this.window;
    // Pass 1: the frame's sum (for the DC offset). Dither is fresh noise per frame (overlapping
    // frames get different noise), so a dithered frame is copied out first; otherwise read in place.
    let src = this.buf;
    let at = offset;
    let sum = 0;
    if (this.dither > 0) {
      for (let i = 0; i < n; i++) {
        const v = src[at + i]! + this.dither * this.rng();
        x[i] = v;
        sum += v;
      }
      src = x;
      at = 0;
    } else {
      for (let i = 0; i < n; i++) sum += src[at + i]!;
    }
    // Pass 2: DC removal, raw energy, pre-emphasis and window. Pre-emphasis uses the previous
    // DC-removed sample (kept in `prev`), so x can be written in place. v − 0 is exactly v, so
    // no DC removal is the same loop with mean 0.
    const mean = this.removeDcOffset ? sum / n : 0;
    const p = this.preemphasis;
    let e = 0;
    if (p !== 0) {
      let prev = src[at]! - mean; // sample 0 is pre-emphasised against itself (Kaldi's edge rule)
      for (let i = 0; i < n; i++) {
        const v = src[at + i]! - mean;
        e += v * v;
        x[i] = (v - p * prev) * w[i]!;
        prev = v;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = src[at + i]! - mean;
        e += v * v;
        x[i] = v * w[i]!;
      }
    }
    // x[n …] stays zero from the constructor: the FFT only reads x.
    this.fft.realTransform(this.spectrum, x);
    // Power spectrum straight into the mel filters, bin by bin: each FFT bin feeds at most two
    // filters, so one pass over the bins replaces a short loop per filter. Each filter still adds
    // its terms in ascending bin order starting from 0, so its sum is the same as per filter.
    const spec = this.spectrum;
    const { lower, lowerWeight, upper, upperWeight, binStart, binEnd } = this.melByBin;
    const acc = this.melEnergy;
    acc.fill(0);
    for (let k = binStart; k < binEnd; k++) {
      const re = spec[2 * k]!;
      const im = spec[2 * k + 1]!;
      const p = re * re + im * im;
      acc[lower[k]!] += lowerWeight[k]! * p;
      acc[upper[k]!] += upperWeight[k]! * p;
    }
    const out = this.out;
    const first = this.melAt;
    const scale = this.normScale;
    const shift = this.normMean;
    for (let b = 0; b < this.numBins; b++) {
      const v = Math.log(Math.max(acc[b]!, FLOAT32_EPS));
      out[first + b] = this.normalized ? (v - shift) * scale : v;
    }
    if (this.energyAt >= 0) {
      // torchaudio's fbank defaults to energy_floor = 1.0: log-energy is floored at log(1) = 0.
      const logEnergy = Math.max(Math.log(Math.max(e, FLOAT32_EPS)), Math.log(ENERGY_FLOOR));
      out[this.energyAt] = this.normalized ? (logEnergy - shift) * scale : logEnergy;
    }
  }
}

/** A seeded standard-normal generator (mulberry32 + Box–Muller), for reproducible dither. */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
