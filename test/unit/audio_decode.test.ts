import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAudioDecoder, type AudioDecoder, type AudioDecoderOptions } from '../../runtime/audio/audio_decoder.js';
import { PcmChunkDecoder } from '../../runtime/audio/pcm_decoder.js';
import { PCM_FORMATS } from '../../runtime/audio/pcm_format.js';
import { EdgestreamError, isEdgestreamError } from '../../runtime/errors.js';
import { makeWav, seededNoise } from '../helpers/wav.js';
import { chunk, concatBytes, randomChunks, s16le, wavBytes } from '../helpers/wav_bytes.js';

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Decode bytes (optionally in the given chunks) to the end; returns samples and the decoder. */
function decodeAll(chunks: Uint8Array[] | Uint8Array, options: AudioDecoderOptions = {}): { samples: Float32Array; decoder: AudioDecoder } {
  const decoder = createAudioDecoder({ maxHeaderBytes: Infinity, ...options });
  const list = chunks instanceof Uint8Array ? [chunks] : chunks;
  const parts = list.map((c) => decoder.push(c));
  parts.push(decoder.end());
  return { samples: concatF32(parts), decoder };
}

const audioError = (e: unknown): boolean => isEdgestreamError(e, 'E_AUDIO_FORMAT');

describe('PCM chunk decoding', () => {
  it('scales every sample format as torchaudio/libsndfile do', () => {
    const cases: [keyof typeof PCM_FORMATS, number[], number[]][] = [
      ['s16le', [0x00, 0x00, 0xff, 0x7f, 0x00, 0x80, 0x01, 0x00], [0, 32767 / 32768, -1, 1 / 32768]],
      ['s16be', [0x7f, 0xff, 0x80, 0x00], [32767 / 32768, -1]],
      ['u8', [0, 128, 255], [-1, 0, 127 / 128]],
      ['s8', [0x80, 0x00, 0x7f], [-1, 0, 127 / 128]],
      ['s24le', [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f, 0x01, 0x00, 0x00], [-1, 8388607 / 8388608, 1 / 8388608]],
      ['s24be', [0x80, 0x00, 0x00, 0x00, 0x00, 0x01], [-1, 1 / 8388608]],
      ['s32le', [0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x40], [-1, 0.5]],
    ];
    for (const [fmt, bytes, expected] of cases) {
      const got = new PcmChunkDecoder({ encoding: PCM_FORMATS[fmt] }).push(Uint8Array.from(bytes));
      assert.deepEqual(Array.from(got), expected.map(Math.fround), fmt);
    }
    const f = new Float32Array([0.1, -2.5, 1e-30]);
    assert.deepEqual(new PcmChunkDecoder({ encoding: PCM_FORMATS.f32le }).push(new Uint8Array(f.buffer)), f);
    const d = new Float64Array([0.1, -0.7]);
    assert.deepEqual(Array.from(new PcmChunkDecoder({ encoding: PCM_FORMATS.f64le }).push(new Uint8Array(d.buffer))), [Math.fround(0.1), Math.fround(-0.7)]);
  });

  it('keeps the first channel of interleaved frames', () => {
    const frames = new Int16Array([100, -1, -2, 200, -3, -4, 300, -5, -6]);
    const got = new PcmChunkDecoder({ encoding: PCM_FORMATS.s16le, channels: 3 }).push(new Uint8Array(frames.buffer));
    assert.deepEqual(Array.from(got), [100, 200, 300].map((v) => v / 32768));
  });

  it('carries a split frame (an odd byte, half a stereo frame) over to the next chunk', () => {
    const bytes = new Uint8Array(new Float32Array(Array.from(seededNoise(999, 3))).buffer);
    const oneShot = new PcmChunkDecoder({ encoding: PCM_FORMATS.f32le, channels: 3 }).push(bytes);
    assert.equal(oneShot.length, 333);
    for (const max of [1, 2, 5, 13, 64]) {
      const dec = new PcmChunkDecoder({ encoding: PCM_FORMATS.f32le, channels: 3 });
      const got = concatF32(randomChunks(bytes, max, max).map((c) => dec.push(c)));
      assert.deepEqual(got, oneShot, `chunks up to ${max} bytes`);
      assert.equal(dec.pendingBytes, 0);
    }
    const dec = new PcmChunkDecoder({ encoding: PCM_FORMATS.s16le });
    assert.equal(dec.push(Uint8Array.of(0x01)).length, 0);
    assert.equal(dec.pendingBytes, 1);
    assert.deepEqual(Array.from(dec.push(Uint8Array.of(0x02, 0x03))), [0x0201 / 32768]);
    assert.equal(dec.pendingBytes, 1);
  });
});

describe('WAV decoding', () => {
  const signal = Float64Array.from(seededNoise(1000, 7), (v) => 0.8 * v);

  it('decodes PCM 8/16/24/32-bit and IEEE float 32/64-bit written by a WAV library', () => {
    const fullScale: Record<string, number> = { '8': 128, '16': 32768, '24': 8388608, '32': 2147483648 };
    for (const bits of ['8', '16', '24', '32', '32f', '64']) {
      const { samples, decoder } = decodeAll(makeWav(signal, 22050, bits));
      assert.equal(samples.length, signal.length, bits);
      assert.equal(decoder.info?.sampleRate, 22050);
      // One quantisation step, or one float32 step (samples come out as float32, like torchaudio's).
      const step = Math.max(fullScale[bits] ? 1 / fullScale[bits]! : 0, 2 ** -24);
      const err = Math.max(...Array.from(samples, (v, i) => Math.abs(v - signal[i]!)));
      assert.ok(err <= step, `${bits}: max error ${err} > one step ${step}`);
    }
  });

  it('takes the first channel of multi-channel files', () => {
    const { samples, decoder } = decodeAll(makeWav(signal, 16000, '16', 4));
    assert.equal(decoder.info?.channels, 4);
    assert.deepEqual(samples, decodeAll(makeWav(signal, 16000, '16')).samples);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE (24-bit PCM, float) and big-endian RIFX', () => {
    const pcm24 = new Uint8Array([0x00, 0x00, 0x40, 0x11, 0x11, 0x11, 0x00, 0x00, 0xc0, 0x22, 0x22, 0x22]); // 2 ch: 0.5, x, -0.5, y
    const ext = decodeAll(wavBytes(pcm24, { formatTag: 0xfffe, subFormat: 1, channels: 2, bitsPerSample: 24 }));
    assert.deepEqual(Array.from(ext.samples), [0.5, -0.5]);
    const f = new Float32Array([0.25, -0.125]);
    const extFloat = decodeAll(wavBytes(new Uint8Array(f.buffer), { formatTag: 0xfffe, subFormat: 3, bitsPerSample: 32 }));
    assert.deepEqual(extFloat.samples, f);
    const rifx = decodeAll(wavBytes(Uint8Array.of(0x40, 0x00, 0xc0, 0x00), { container: 'RIFX' }));
    assert.deepEqual(Array.from(rifx.samples), [0.5, -0.5]);
    assert.equal(rifx.decoder.info?.formatLabel, 's16be');
  });

  it('skips other chunks (odd sizes padded) and ignores bytes after the declared data', () => {
    const data = s16le([0.5, -0.25, 0.125]);
    const list = chunk('LIST', new TextEncoder().encode('INFOISFT\x05\x00\x00\x00abcde'));
    const bytes = concatBytes(wavBytes(data, { chunksBeforeData: [list, chunk('junk', Uint8Array.of(1, 2, 3))] }), chunk('id3 ', new Uint8Array(9)));
    assert.deepEqual(Array.from(decodeAll(bytes).samples), [0.5, -0.25, 0.125]);
    assert.deepEqual(Array.from(decodeAll(randomChunks(bytes, 5, 3)).samples), [0.5, -0.25, 0.125]);
  });

  it('streams a header with a placeholder length (arecord, ffmpeg to a pipe) to the end of the input', () => {
    const pcm = s16le(signal);
    for (const placeholder of [0x7fffffff, 0x7ffff000, 0xffffffff]) {
      const bytes = wavBytes(pcm, { dataSize: placeholder });
      for (const max of [1, 7, 4096]) {
        const { samples, decoder } = decodeAll(randomChunks(bytes, placeholder + max, max), { maxHeaderBytes: 1 << 20 });
        assert.equal(samples.length, signal.length, `placeholder ${placeholder.toString(16)}, chunks ≤ ${max}`);
        assert.equal(decoder.truncation, null);
      }
    }
  });

  it('decodes the whole samples of a data chunk shorter than declared, and reports it', () => {
    const pcm = s16le(signal);
    const bytes = wavBytes(pcm).subarray(0, 44 + 601); // header declares 2000 bytes; the file stops short
    const { samples, decoder } = decodeAll(bytes);
    assert.equal(samples.length, 300);
    assert.deepEqual(decoder.truncation, { declaredBytes: 2000, presentBytes: 601, framesDecoded: 300 });
    const streamed = decodeAll(randomChunks(bytes, 11, 9));
    assert.deepEqual(streamed.samples, samples);
    assert.deepEqual(streamed.decoder.truncation, decoder.truncation);
  });

  it('decodes headerless PCM when the format and rate are given', () => {
    const bytes = s16le([0.5, -0.5]);
    const raw = decodeAll(bytes, { container: 'auto', format: 's16le', sampleRate: 8000 });
    assert.deepEqual(Array.from(raw.samples), [0.5, -0.5]);
    assert.equal(raw.decoder.info?.container, 'raw');
    assert.throws(() => decodeAll(bytes), (e: unknown) => audioError(e) && /--format s16le --rate/.test((e as Error).message));
    assert.throws(() => decodeAll(bytes, { container: 'raw', format: 'pcm_mulaw' as never, sampleRate: 8000 }), audioError);
    assert.throws(() => decodeAll(bytes, { container: 'raw', format: 's16le', sampleRate: 0 }), audioError);
    assert.throws(() => decodeAll(bytes, { container: 'raw', format: 's16le', sampleRate: 16000, channels: 0 }), audioError);
  });
});

describe('WAV decoding: bad input gets E_AUDIO_FORMAT with a clear message', () => {
  const good = wavBytes(s16le([0.1, 0.2, 0.3, 0.4]));
  const cases: [string, Uint8Array, RegExp][] = [
    ['mu-law', wavBytes(new Uint8Array(4), { formatTag: 7, bitsPerSample: 8 }), /mu-law is not supported/],
    ['A-law', wavBytes(new Uint8Array(4), { formatTag: 6, bitsPerSample: 8 }), /A-law is not supported/],
    ['IMA ADPCM', wavBytes(new Uint8Array(256), { formatTag: 0x11, bitsPerSample: 4, blockAlign: 256, fmtSize: 20 }), /IMA ADPCM is not supported/],
    ['MS ADPCM', wavBytes(new Uint8Array(256), { formatTag: 2, bitsPerSample: 4, blockAlign: 256 }), /Microsoft ADPCM/],
    ['MP3 in WAV', wavBytes(new Uint8Array(10), { formatTag: 0x55, bitsPerSample: 0, blockAlign: 1 }), /MP3 is not supported/],
    ['extensible mu-law', wavBytes(new Uint8Array(4), { formatTag: 0xfffe, subFormat: 7, bitsPerSample: 8 }), /mu-law/],
    ['extensible, short fmt', wavBytes(new Uint8Array(4), { formatTag: 0xfffe, fmtSize: 18 }), /EXTENSIBLE header is truncated/],
    ['12-bit PCM', wavBytes(new Uint8Array(4), { bitsPerSample: 12, blockAlign: 2 }), /12-bit PCM is not supported/],
    ['16-bit float', wavBytes(new Uint8Array(4), { formatTag: 3, bitsPerSample: 16 }), /16-bit IEEE float/],
    ['zero channels', wavBytes(new Uint8Array(4), { channels: 0, blockAlign: 2 }), /0 channels/],
    ['sample rate 0', wavBytes(new Uint8Array(4), { sampleRate: 0 }), /sample rate 0 Hz/],
    ['sample rate 4 GHz', wavBytes(new Uint8Array(4), { sampleRate: 4_000_000_000 }), /sample rate 4000000000 Hz/],
    ['block align mismatch', wavBytes(new Uint8Array(4), { blockAlign: 3 }), /block align 3/],
    ['fmt chunk too small', wavBytes(new Uint8Array(4), { fmtSize: 8 }), /fmt chunk is 8 bytes/],
    ['RF64', wavBytes(new Uint8Array(4), { container: 'RF64' }), /RF64/],
    ['not RIFF', new TextEncoder().encode('ID3\x03\x00\x00\x00\x00\x00\x00 some mp3 bytes'), /not a WAV file/],
    ['RIFF but AVI', concatBytes(new TextEncoder().encode('RIFF\x10\x00\x00\x00AVI '), new Uint8Array(8)), /not WAVE audio/],
    ['header cut at 20 bytes', good.subarray(0, 20), /cannot read the WAV header/],
    ['header cut at 40 bytes', good.subarray(0, 40), /cannot read the WAV header/],
    ['only 6 bytes', good.subarray(0, 6), /too short/],
    ['no data chunk', concatBytes(good.subarray(0, 36), chunk('LIST', new Uint8Array(4))), /data/],
    ['absurd fmt size', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(16, 0xfffffff0, true); return b; })(), /cannot read the WAV header/],
    ['empty', new Uint8Array(0), /empty input/],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      assert.throws(() => decodeAll(bytes), (e: unknown) => audioError(e) && message.test((e as Error).message), name);
      // The same input arriving in small chunks fails the same way (stream mode).
      assert.throws(() => decodeAll(randomChunks(bytes, 1, 5), { maxHeaderBytes: 1 << 20 }), (e: unknown) => audioError(e), `${name} (streamed)`);
    });
  }

  it('a chunk structure nested deep enough to overflow the stack', () => {
    const level = concatBytes(new TextEncoder().encode('LIST'), Uint8Array.of(0xff, 0xff, 0xff, 0x0f), new TextEncoder().encode('LIST'));
    const bomb = concatBytes(good.subarray(0, 36), ...Array.from({ length: 60_000 }, () => level));
    assert.throws(() => decodeAll(bomb), (e: unknown) => audioError(e));
  });

  it('a stream that never reaches its data chunk is refused after maxHeaderBytes', () => {
    const header = concatBytes(good.subarray(0, 36), chunk('junk', new Uint8Array(5000)));
    const dec = createAudioDecoder({ maxHeaderBytes: 1000 });
    assert.throws(() => { for (const c of randomChunks(header, 2, 64)) dec.push(c); }, (e: unknown) => audioError(e) && /no WAV data chunk within the first 1000 bytes/.test((e as Error).message));
  });

  it('fuzz: corrupted and truncated files either decode to finite samples or fail with E_AUDIO_FORMAT', () => {
    const base = wavBytes(s16le(Array.from(seededNoise(64, 1))), { chunksBeforeData: [chunk('LIST', new TextEncoder().encode('INFOIART\x02\x00\x00\x00ab'))] });
    const rnd = seededNoise(20_000, 99);
    let r = 0;
    const next = (): number => (rnd[r++ % rnd.length]! + 1) / 2;
    let decoded = 0;
    let rejected = 0;
    for (let trial = 0; trial < 1500; trial++) {
      const bytes = base.slice(0, trial % 3 === 0 ? Math.floor(next() * base.length) : base.length);
      const flips = 1 + Math.floor(next() * 4);
      for (let k = 0; k < flips; k++) bytes[Math.floor(next() * Math.min(bytes.length, 80))] = Math.floor(next() * 256);
      try {
        const { samples } = decodeAll(bytes);
        assert.ok(samples.every(Number.isFinite));
        decoded++;
      } catch (e) {
        assert.ok(e instanceof EdgestreamError && e.code === 'E_AUDIO_FORMAT', `trial ${trial}: ${String(e)}`);
        rejected++;
      }
    }
    assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded}, rejected ${rejected}`);
  });
});
