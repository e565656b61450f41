import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createAudioDecoder, type AudioDecoderOptions } from '../../runtime/audio/audio_decoder.js';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { PCM_FORMATS, type PcmFormatName } from '../../runtime/audio/pcm_format.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';
import { chunk, wavBytes } from '../helpers/wav_bytes.js';
import { check, concat, cutAt, outcome, TEST_TIMEOUT, type Outcome } from './fuzz.js';

/**
 * Fuzzing WAV/PCM decoding and the streaming WAV decoder: any bytes in any chunking give samples
 * or E_AUDIO_FORMAT, never another exception, and the result (or the error code) is the same
 * whatever the chunking: the whole-file reader and the stream are one rule.
 */
type Decoded = { samples: number[]; truncation: unknown; rate: number | null };

function decode(chunks: Uint8Array[], options: AudioDecoderOptions): Outcome<Decoded> {
  return outcome(['E_AUDIO_FORMAT'], () => {
    const d = createAudioDecoder(options);
    const out: number[] = [];
    for (const c of chunks) for (const v of d.push(c)) out.push(v);
    for (const v of d.end()) out.push(v);
    return { samples: out, truncation: d.truncation, rate: d.info?.sampleRate ?? null };
  });
}

/** Whole and chunked decoding agree exactly (same samples, same truncation, or the same code). */
function agree(bytes: Uint8Array, cuts: number[], options: AudioDecoderOptions = { container: 'wav' }): Outcome<Decoded> {
  const whole = decode([bytes], options);
  const streamed = decode(cutAt(bytes, cuts), options);
  assert.equal(streamed.ok, whole.ok, `whole: ${whole.ok ? 'ok' : whole.message}; streamed: ${streamed.ok ? 'ok' : streamed.message}`);
  if (whole.ok && streamed.ok) {
    assert.deepEqual(streamed.value.samples, whole.value.samples);
    assert.deepEqual(streamed.value.truncation, whole.value.truncation);
  } else if (!whole.ok && !streamed.ok) {
    assert.equal(streamed.code, whole.code);
  }
  return whole;
}

const cuts = fc.array(fc.nat({ max: 1 << 16 }), { maxLength: 12 });
/** Mostly a sound value, sometimes anything: most files get past the header, some lie. */
const mostly = <T>(sound: fc.Arbitrary<T>, any: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof({ arbitrary: sound, weight: 9 }, { arbitrary: any, weight: 1 });

/** WAV files whose every header field and chunk may lie. */
const wav = fc.record({
  formatTag: mostly(fc.constantFrom(1, 3, 0xfffe), fc.integer({ min: 0, max: 0xffff })),
  subFormat: mostly(fc.constantFrom(1, 3), fc.integer({ min: 0, max: 0xffff })),
  channels: mostly(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 0xffff })),
  sampleRate: mostly(fc.constantFrom(8000, 16000, 44100), fc.integer({ min: 0, max: 0xffffffff })),
  bitsPerSample: mostly(fc.constantFrom(8, 16, 24, 32, 64), fc.integer({ min: 0, max: 0xffff })),
  blockAlignDelta: mostly(fc.constant(0), fc.integer({ min: -4, max: 4 })),
  fmtSize: mostly(fc.constantFrom(16, 18, 40), fc.integer({ min: 0, max: 64 })),
  validBits: fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
  dataSize: fc.option(fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(0x7fffffff, 0xffffffff, 0x7fff0000)), { nil: undefined }),
  before: fc.array(fc.record({ id: fc.constantFrom('LIST', 'junk', 'cue ', 'fact', 'fmt ', 'data', 'id3 ', '\0\0\0\0'), body: fc.uint8Array({ maxLength: 9 }), lieSize: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }) }), { maxLength: 3 }),
  data: fc.uint8Array({ maxLength: 512 }),
  after: fc.uint8Array({ maxLength: 16 }),
  cutTo: fc.option(fc.nat({ max: 700 }), { nil: undefined }),
}).map((w) => {
  const chunks = w.before.map((c) => {
    const b = chunk(c.id, c.body);
    if (c.lieSize !== undefined) new DataView(b.buffer).setUint32(4, c.lieSize, true);
    return b;
  });
  const blockAlign = Math.max(0, Math.min(0xffff, Math.trunc((w.channels * w.bitsPerSample) / 8) + w.blockAlignDelta));
  const bytes = concat(wavBytes(w.data, { ...w, blockAlign, chunksBeforeData: chunks }), w.after);
  return w.cutTo === undefined ? bytes : bytes.subarray(0, w.cutTo);
});

describe('fuzz: WAV / PCM decoding, whole and streamed', { timeout: TEST_TIMEOUT }, () => {
  it('arbitrary bytes after a RIFF/WAVE magic', () => {
    const riff = fc.tuple(fc.constantFrom('RIFF', 'RIFX', 'RF64', 'RIFx'), fc.uint8Array({ maxLength: 300 })).map(([m, rest]) => concat(new TextEncoder().encode(`${m}\0\0\0\0WAVE`), rest));
    check(fc.property(riff, cuts, (b, c) => { agree(b, c); }), 2000);
    check(fc.property(fc.uint8Array({ maxLength: 200 }), cuts, (b, c) => { agree(b, c, { container: 'auto' }); }), 1000);
  });

  it('WAV files whose header fields, chunks and sizes lie', () => {
    check(fc.property(wav, cuts, (b, c) => {
      const r = agree(b, c);
      if (r.ok) assert.ok(r.value.rate! >= 4000 && r.value.rate! <= 384_000);
    }), 2500);
  });

  it('sound WAVs with any other chunks (odd sizes, pads, forgotten pads) decode to exactly their samples', () => {
    const other = fc.record({ id: fc.constantFrom('LIST', 'junk', 'cue ', 'bext', 'id3 ', 'fact'), body: fc.uint8Array({ maxLength: 33 }), forgetPad: fc.boolean() });
    check(fc.property(fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 200 }), fc.array(other, { maxLength: 4 }), fc.uint8Array({ maxLength: 9 }), cuts, (values, others, trailing, c) => {
      const chunks = others.map((o) => {
        const b = chunk(o.id, o.body);
        // A forgotten pad only works when the next id does not start with a zero byte (never, for ids).
        return o.forgetPad && o.body.length % 2 === 1 ? b.subarray(0, b.length - 1) : b;
      });
      const pcm = new Uint8Array(new Int16Array(values).buffer);
      const bytes = concat(wavBytes(pcm, { chunksBeforeData: chunks }), chunk('LIST', trailing));
      const r = agree(bytes, c);
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.deepEqual(r.value.samples, values.map((v) => v / 32768));
      assert.equal(r.value.truncation, null);
    }), 1500);
  });

  it('raw PCM of every format and channel count, in any chunking', () => {
    const formats = Object.keys(PCM_FORMATS) as PcmFormatName[];
    check(fc.property(fc.constantFrom(...formats), fc.integer({ min: 1, max: 9 }), fc.uint8Array({ maxLength: 300 }), cuts, (format, channels, b, c) => {
      const r = agree(b, c, { container: 'raw', format, sampleRate: 16000, channels });
      assert.ok(r.ok);
      const frame = channels * (PCM_FORMATS[format].bits / 8);
      assert.equal(r.value.samples.length, Math.floor(b.length / frame));
    }), 1500);
  });

  it('the whole front end on hostile WAVs: frames are finite, or the input is refused', () => {
    check(fc.property(wav, (b) => {
      const r = outcome(['E_AUDIO_FORMAT', 'E_NONFINITE_INPUT'], () => computeFeatures(b, LMUFORMER_FRONTEND, { normalize: true }));
      if (r.ok) for (const v of r.value.data) assert.ok(Number.isFinite(v));
    }), 600);
  });
});

