import { EdgestreamError } from '../errors.js';
import { besselI0, kaiserBeta, kaiserHalfLength, sinc } from './kaiser_sinc.js';

/** Resampler quality knobs; the defaults suit speech features (see docs/audio-frontend.md). */
export interface ResamplerOptions {
  /** Stopband attenuation in dB (aliases and images are pushed this far down). Default 100. */
  attenuationDb?: number;
  /**
   * Where the passband ends, as a fraction of the lower of the two Nyquist frequencies; the
   * stopband starts at that Nyquist frequency, so nothing aliases. Default 0.95 (7.6 kHz at 16 kHz).
   */
  passband?: number;
}

/** Phase tables larger than this are replaced by this many phases with linear interpolation. */
const MAX_TABLE_PHASES = 512;
/** Input processed per inner round (bounds the working buffer). */
const BLOCK = 4096;
/** Longest filter half-length accepted (rate pairs needing more are rejected, not ground through). */
const MAX_HALF_LENGTH = 1 << 15;

/**
 * Σ a[ao + j]·b[bo + j] for j < n, in four interleaved partial sums (the hot loop: independent
 * accumulators let the CPU overlap the additions). The order is fixed, so results are exact
 * repeats whatever the chunking.
 */
function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[ao + j]! * b[bo + j]!;
    s1 += a[ao + j + 1]! * b[bo + j + 1]!;
    s2 += a[ao + j + 2]! * b[bo + j + 2]!;
    s3 += a[ao + j + 3]! * b[bo + j + 3]!;
  }
  for (; j < n; j++) s0 += a[ao + j]! * b[bo + j]!;
  return (s0 + s1) + (s2 + s3);
}

/** Filter tables by ratio and quality: streams at the same rates share one (read-only) table. */
const TABLES = new Map<string, Float64Array>();
const MAX_CACHED_TABLES = 16;

/** One row of `taps` coefficients per phase r/phases: the windowed sinc centred at that phase. */
function designTable(rows: number, phases: number, taps: number, k: number, half: number, cutoff: number, attenuation: number, passthrough: boolean): Float64Array {
  const table = new Float64Array(rows * taps);
  if (passthrough) return table;
  const beta = kaiserBeta(attenuation);
  const i0Beta = besselI0(beta);
  for (let r = 0; r < rows; r++) {
    const frac = r / phases;
    const row = table.subarray(r * taps, (r + 1) * taps);
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const t = frac + k - 1 - j; // output time minus the time of tap j's input sample
      const x = t / half;
      const w = Math.abs(x) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - x * x)) / i0Beta;
      row[j] = 2 * cutoff * sinc(2 * cutoff * t) * w;
      sum += row[j]!;
    }
    for (let j = 0; j < taps; j++) row[j]! /= sum; // exact unity gain at DC for every phase
  }
  return table;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Streaming sample-rate converter: a polyphase Kaiser-windowed sinc filter for the exact
 * rational ratio out/in = L/M. Output sample n sits at input time n·M/L; its position is kept
 * as an integer index plus an integer phase, so the result is the same whatever the chunking
 * (bit for bit) and never drifts. Output n = 0 is aligned with input sample 0 (zero phase
 * delay); the cost is a look-ahead of `latency` input samples, which `flush()` releases by
 * treating the signal as zero after its end. Output length after flush: ceil(inputs·L/M).
 */
export class Resampler {
  readonly inputRate: number;
  readonly outputRate: number;
  /** Input samples of look-ahead each output needs. */
  readonly latency: number;
  /** Upsampling factor L and downsampling factor M (out/in = L/M in lowest terms). */
  readonly up: number;
  readonly down: number;
  private readonly taps: number;
  /** Filter rows, one per phase (`phases` + 1 rows in interpolated mode), `taps` each. */
  private readonly table: Float64Array;
  private readonly phases: number;
  private readonly interpolate: boolean;
  /** Same rate in and out: samples pass unchanged. */
  private readonly passthrough: boolean;
  /** Input history: buf[i] holds absolute input sample bufBase + i. */
  private readonly buf: Float64Array;
  private bufBase = 0;
  private bufLength = 0;
  /** Input samples received. */
  private received = 0;
  /** Position of the next output: input index and phase (numerator over `up`). */
  private index = 0;
  private phase = 0;
  private flushed = false;
  private scratch = new Float32Array(256);

  constructor(inputRate: number, outputRate: number, options: ResamplerOptions = {}) {
    for (const [name, rate] of [['input', inputRate], ['output', outputRate]] as const) {
      if (!Number.isSafeInteger(rate) || rate < 1) {
        throw new EdgestreamError('E_AUDIO_FORMAT', `resampler ${name} rate must be a positive integer (got ${rate})`);
      }
    }
    const attenuation = options.attenuationDb ?? 100;
    const passband = options.passband ?? 0.95;
    if (!(attenuation >= 20 && attenuation <= 200)) throw new EdgestreamError('E_CONFIG', `resampler attenuation ${attenuation} dB is outside 20–200 dB`);
    if (!(passband > 0 && passband < 1)) throw new EdgestreamError('E_CONFIG', `resampler passband ${passband} must be between 0 and 1 (a fraction of Nyquist)`);
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    const g = gcd(inputRate, outputRate);
    this.up = outputRate / g;
    this.down = inputRate / g;

    // Everything in units of input samples: the low-pass cuts at the lower Nyquist frequency.
    const nyquist = Math.min(inputRate, outputRate) / 2;
    const cutoff = ((1 + passband) / 2) * nyquist / inputRate; // cycles per input sample
    const transition = (1 - passband) * nyquist / inputRate;
    this.passthrough = this.up === this.down;
    const half = this.passthrough ? 0 : kaiserHalfLength(attenuation, transition);
    if (half > MAX_HALF_LENGTH) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `cannot resample ${inputRate} Hz to ${outputRate} Hz: the ratio needs a ${Math.round(2 * half)}-tap filter`, { inputRate, outputRate });
    }
    const k = Math.ceil(half);
    this.latency = k;
    this.taps = Math.max(1, 2 * k);
    this.interpolate = this.up > MAX_TABLE_PHASES;
    this.phases = this.interpolate ? MAX_TABLE_PHASES : this.up;
    const rows = this.interpolate ? this.phases + 1 : this.phases;
    const key = `${this.up}/${this.down}/${attenuation}/${passband}`;
    let table = TABLES.get(key);
    if (!table) {
      table = designTable(rows, this.phases, this.taps, k, half, cutoff, attenuation, this.passthrough);
      if (TABLES.size >= MAX_CACHED_TABLES) TABLES.delete(TABLES.keys().next().value!);
      TABLES.set(key, table);
    }
    this.table = table;
    this.buf = new Float64Array(this.taps + this.latency + BLOCK);
    this.reset();
  }

  /** Start a new stream. */
  reset(): void {
    // Samples before the start are zeros: keep taps−1 of them so output 0 can look back.
    const back = Math.max(0, this.latency - 1);
    this.buf.fill(0, 0, back);
    this.bufBase = -back;
    this.bufLength = back;
    this.received = 0;
    this.index = 0;
    this.phase = 0;
    this.flushed = false;
  }

  /** Resample the next input chunk; returns the outputs that became ready. */
  push(input: Float32Array | Float64Array): Float32Array {
    if (this.flushed) throw new EdgestreamError('E_SESSION_STATE', 'resampler was flushed; call reset() to start a new stream');
    if (this.passthrough) {
      this.received += input.length;
      return Float32Array.from(input);
    }
    let count = 0;
    for (let start = 0; start < input.length; start += BLOCK) {
      const block = input.subarray(start, Math.min(input.length, start + BLOCK));
      this.compact();
      this.buf.set(block, this.bufLength);
      this.bufLength += block.length;
      this.received += block.length;
      count = this.run(this.received - this.latency, count);
    }
    return this.scratch.slice(0, count);
  }

  /** The stream ended: treat what follows as silence and return the remaining outputs. */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (this.passthrough) return new Float32Array(0);
    this.compact();
    this.buf.fill(0, this.bufLength, this.bufLength + this.latency);
    this.bufLength += this.latency;
    const count = this.run(this.received, 0); // may grow scratch: read it afterwards
    return this.scratch.slice(0, count);
  }

  /** Compute outputs whose centre input index is below `limit`, appending to scratch at `count`. */
  private run(limit: number, count: number): number {
    const { buf, table, taps, up, down } = this;
    while (this.index < limit) {
      if (count === this.scratch.length) {
        const grown = new Float32Array(count * 2);
        grown.set(this.scratch);
        this.scratch = grown;
      }
      const base = this.index - this.latency + 1 - this.bufBase;
      let y: number;
      if (!this.interpolate) {
        y = dot(table, this.phase * taps, buf, base, taps);
      } else {
        const pos = (this.phase * this.phases) / up;
        const r = Math.floor(pos);
        const frac = pos - r;
        const s0 = dot(table, r * taps, buf, base, taps);
        const s1 = dot(table, (r + 1) * taps, buf, base, taps);
        y = s0 + frac * (s1 - s0);
      }
      this.scratch[count++] = y;
      this.phase += down;
      const step = Math.floor(this.phase / up);
      this.index += step;
      this.phase -= step * up;
    }
    return count;
  }

  /** Drop input no future output needs, keeping room for the next block. */
  private compact(): void {
    const keepFrom = Math.min(this.index - this.latency + 1, this.bufBase + this.bufLength) - this.bufBase;
    if (keepFrom <= 0) return;
    this.buf.copyWithin(0, keepFrom, this.bufLength);
    this.bufBase += keepFrom;
    this.bufLength -= keepFrom;
  }
}

/** A whole recording from `inputRate` to `outputRate` in one call (push everything, then flush). */
export function resampleBuffer(samples: Float32Array, inputRate: number, outputRate: number, options: ResamplerOptions = {}): Float32Array {
  if (inputRate === outputRate) return samples;
  const r = new Resampler(inputRate, outputRate, options);
  const head = r.push(samples);
  const tail = r.flush();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
