import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAudioDecoder, type AudioDecoder } from '../../runtime/audio/audio_decoder.js';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';
import { runCli } from '../helpers/cli.js';
import { DEMO_MODEL } from '../helpers/hostile_files.js';
import { tempDir } from '../helpers/tmp.js';
import { seededNoise } from '../helpers/wav.js';
import { chunk, concatBytes, randomChunks, s16le, wavBytes } from '../helpers/wav_bytes.js';

const dir = tempDir();
const audioError = (pattern?: RegExp) => (e: unknown): boolean => {
  assert.ok(isEdgestreamError(e, 'E_AUDIO_FORMAT'), `expected E_AUDIO_FORMAT, got ${String(e)}`);
  if (pattern) assert.match((e as Error).message, pattern);
  return true;
};

function decode(chunks: Uint8Array[], options: Parameters<typeof createAudioDecoder>[0] = {}): { samples: Float32Array; decoder: AudioDecoder } {
  const decoder = createAudioDecoder({ container: 'wav', ...options });
  const parts = chunks.map((c) => decoder.push(c));
  parts.push(decoder.end());
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { samples.set(p, o); o += p.length; }
  return { samples, decoder };
}

/** Decode whole and in several random chunkings; every way must give the same result. */
function decodeEveryWay(bytes: Uint8Array): { samples: Float32Array; decoder: AudioDecoder } {
  const whole = decode([bytes]);
  for (const max of [1, 3, 17, 4096]) {
    const streamed = decode(randomChunks(bytes, max * 7 + 1, max));
    assert.deepEqual(streamed.samples, whole.samples, `chunks ≤ ${max}`);
    assert.deepEqual(streamed.decoder.truncation, whole.decoder.truncation, `chunks ≤ ${max}`);
  }
  return whole;
}

const write = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

describe('sample rates are bounded (issue 13 row 6)', () => {
  const pcm = s16le(Array.from(seededNoise(10_000, 3), (v) => 0.5 * v));

  it('a WAV declaring 1 Hz (or any rate outside 4–384 kHz) is refused', () => {
    for (const rate of [1, 100, 3999, 384_001, 768_000]) {
      assert.throws(() => decode([wavBytes(pcm, { sampleRate: rate })]), audioError(new RegExp(`sample rate ${rate} Hz is outside 4000–384000 Hz`)), String(rate));
    }
    for (const rate of [4000, 8000, 384_000]) assert.equal(decode([wavBytes(pcm, { sampleRate: rate })]).samples.length, 10_000, String(rate));
  });

  it('raw PCM rates given by the caller are bounded the same way', () => {
    assert.throws(() => createAudioDecoder({ container: 'raw', format: 's16le', sampleRate: 1 }), audioError(/between 4000 and 384000 Hz/));
  });

  it('work stays proportional to the input: the lowest rate makes at most 4 model samples per input sample', () => {
    const f = computeFeatures(wavBytes(pcm, { sampleRate: 4000 }), LMUFORMER_FRONTEND);
    // 10,000 samples at 4 kHz = 2.5 s = 40,000 samples at 16 kHz: 1 + (40000 − 400) / 160 frames.
    assert.equal(f.frames, 1 + Math.floor((40_000 - 400) / 160));
  });

  it('features / classify / listen refuse a 1 Hz WAV at once (exit 2)', () => {
    const wav = write('one-hz.wav', wavBytes(new Uint8Array(20_000), { sampleRate: 1 }));
    for (const args of [['features', wav, '--out', join(dir, 'x.npy')], ['classify', DEMO_MODEL, wav], ['listen', DEMO_MODEL, wav]]) {
      const r = runCli(args, { timeoutMs: 60_000 });
      assert.equal(r.status, 2, `${args[0]}: exit ${r.status}`);
      assert.match(r.stderr, /E_AUDIO_FORMAT: .*sample rate 1 Hz is outside 4000–384000 Hz/, args[0]);
    }
  });
});

describe('WAV chunk rules: one rule for files and streams (issue 13 row 13)', () => {
  const data = new Uint8Array(20_015);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 0xff;

  it('an odd-length 16-bit data chunk is not a truncation: the partial frame is dropped, the pad byte is not data', () => {
    const bytes = wavBytes(data); // 20015 data bytes, then the RIFF pad byte
    assert.equal(bytes.length, 44 + 20_016);
    const { samples, decoder } = decodeEveryWay(bytes);
    assert.equal(samples.length, 10_007);
    assert.equal(decoder.truncation, null);
  });

  it('an odd-length 8-bit data chunk followed by its pad byte and a LIST chunk decodes exactly its samples', () => {
    const bytes = concatBytes(wavBytes(data, { bitsPerSample: 8 }), chunk('LIST', new TextEncoder().encode('INFOISFT\x03\x00\x00\x00abc')));
    const { samples, decoder } = decodeEveryWay(bytes);
    assert.equal(samples.length, 20_015);
    assert.equal(samples[20_014], ((data[20_014]! - 128) / 128));
    assert.equal(decoder.truncation, null);
  });

  it('odd-sized chunks before the data are skipped with their pad byte, and a writer that forgot the pad is tolerated', () => {
    const pcm = s16le([0.5, -0.25, 0.125]);
    const odd = chunk('LIST', new TextEncoder().encode('INFOISFT\x01\x00\x00\x00a')); // 13 bytes + pad
    assert.deepEqual(Array.from(decodeEveryWay(wavBytes(pcm, { chunksBeforeData: [odd] })).samples), [0.5, -0.25, 0.125]);
    const noPad = odd.subarray(0, odd.length - 1);
    assert.deepEqual(Array.from(decodeEveryWay(wavBytes(pcm, { chunksBeforeData: [noPad] })).samples), [0.5, -0.25, 0.125]);
  });

  it('a real truncation is still reported, with the right numbers', () => {
    const bytes = wavBytes(data).subarray(0, 44 + 1001);
    const { samples, decoder } = decodeEveryWay(bytes);
    assert.equal(samples.length, 500);
    assert.deepEqual(decoder.truncation, { declaredBytes: 20_015, presentBytes: 1001, framesDecoded: 500 });
  });

  it('classify warns about a truncated file, not about an odd-length one', () => {
    const odd = runCli(['classify', DEMO_MODEL, write('odd.wav', wavBytes(data))]);
    assert.equal(odd.status, 0, odd.stderr);
    assert.doesNotMatch(odd.stderr, /truncated/);
    const cut = runCli(['classify', DEMO_MODEL, write('cut.wav', wavBytes(data).subarray(0, 44 + 1001))]);
    assert.equal(cut.status, 0, cut.stderr);
    assert.match(cut.stderr, /truncated WAV: the header declares 20015 data bytes, 1001 are present/);
  });

  const pcm = s16le(Array.from(seededNoise(16_000, 5), (v) => 0.3 * v));
  const junk = (mib: number): Uint8Array[] => Array.from({ length: mib * 16 }, () => chunk('junk', new Uint8Array(65_536 - 8)));

  it('a data chunk after 4 MiB of other chunks is decoded by files and streams alike', () => {
    const bytes = wavBytes(pcm, { chunksBeforeData: junk(4) });
    assert.equal(decode([bytes]).samples.length, 16_000);
    assert.equal(decode(randomChunks(bytes, 1, 65_536)).samples.length, 16_000);
    const wav = write('junk4.wav', bytes);
    const features = runCli(['features', wav, '--out', join(dir, 'j.npy')]);
    assert.equal(features.status, 0, features.stderr);
    const classify = runCli(['classify', DEMO_MODEL, wav]);
    assert.equal(classify.status, 0, classify.stderr);
    const listen = runCli(['listen', DEMO_MODEL, wav, '--warmup-ms', '0']);
    assert.equal(listen.status, 0, listen.stderr);
    const stdin = runCli(['listen', DEMO_MODEL, '-', '--warmup-ms', '0'], { input: bytes });
    assert.equal(stdin.status, 0, stdin.stderr);
  });

  it('a data chunk beyond the first 16 MiB is refused by files and streams alike, with the same message', () => {
    const bytes = wavBytes(pcm, { chunksBeforeData: junk(17) });
    const message = /no WAV data chunk within the first 16777216 bytes/;
    assert.throws(() => decode([bytes]), audioError(message));
    assert.throws(() => decode(randomChunks(bytes, 2, 65_536)), audioError(message));
    const wav = write('junk17.wav', bytes);
    for (const args of [['features', wav, '--out', join(dir, 'k.npy')], ['classify', DEMO_MODEL, wav], ['listen', DEMO_MODEL, wav]]) {
      const r = runCli(args);
      assert.equal(r.status, 2, args[0]);
      assert.match(r.stderr, message, args[0]);
    }
  });
});

describe('hostile WAV headers of the same kinds', () => {
  const pcm = s16le([0.5, -0.5, 0.25, -0.25]);
  const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };

  it('a cue chunk declaring four billion cue points costs nothing (it is skipped, not parsed)', () => {
    const bytes = wavBytes(pcm, { chunksBeforeData: [chunk('cue ', u32(0xffffffff)), chunk('smpl', new Uint8Array(36).fill(0xff)), chunk('LIST', u32(0xffffffff))] });
    assert.deepEqual(Array.from(decodeEveryWay(bytes).samples), [0.5, -0.5, 0.25, -0.25]);
  });

  it('a chunk that claims to run past the header bound is refused as soon as its size is read', () => {
    const huge = concatBytes(new TextEncoder().encode('LIST'), u32(0xfffffff0));
    const bytes = wavBytes(pcm, { chunksBeforeData: [huge] });
    assert.throws(() => decode([bytes.subarray(0, 60)]), audioError(/no WAV data chunk within the first 16777216 bytes/));
  });

  it('RIFF sizes that lie (0, smaller than the file, 4 GiB) are ignored', () => {
    for (const size of [0, 10, 0xffffffff]) {
      const bytes = wavBytes(pcm).slice();
      new DataView(bytes.buffer).setUint32(4, size, true);
      assert.deepEqual(Array.from(decodeEveryWay(bytes).samples), [0.5, -0.5, 0.25, -0.25], String(size));
    }
  });

  it('fmt lies and odd formats are refused with what the file says', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['block align larger than a frame', wavBytes(pcm, { blockAlign: 4 }), /block align 4/],
      ['block align 0', wavBytes(pcm, { blockAlign: 0 }), /block align 0/],
      ['bits 0', wavBytes(pcm, { bitsPerSample: 0, blockAlign: 2 }), /0-bit PCM/],
      ['valid bits above container bits', wavBytes(pcm, { formatTag: 0xfffe, validBits: 24 }), /24 valid bits/],
      ['extensible with an unknown sub-format GUID', (() => { const b = wavBytes(pcm, { formatTag: 0xfffe }).slice(); b[20 + 24 + 8] = 0x99; return b; })(), /sub-format/],
      ['extensible with sub-format 0', wavBytes(pcm, { formatTag: 0xfffe, subFormat: 0 }), /format tag 0x0000/],
      ['data before fmt', concatBytes(new TextEncoder().encode('RIFF'), u32(100), new TextEncoder().encode('WAVE'), chunk('data', pcm)), /data chunk before its fmt chunk/],
      ['a fmt chunk of 1 MiB', concatBytes(new TextEncoder().encode('RIFF'), u32(100), new TextEncoder().encode('WAVE'), new TextEncoder().encode('fmt '), u32(1 << 20), new Uint8Array(64)), /fmt chunk of 1048576 bytes/],
    ];
    for (const [name, bytes, pattern] of cases) {
      assert.throws(() => decode([bytes]), audioError(pattern), name);
      assert.throws(() => decode(randomChunks(bytes, 3, 5)), audioError(pattern), `${name} (streamed)`);
    }
  });

  it('8191 channels of 64-bit float (the largest frame a fmt chunk can declare, 64 KiB) decode to the first channel', () => {
    const channels = 8191;
    const frame = new Float64Array(channels);
    frame[0] = 0.25;
    const two = concatBytes(new Uint8Array(frame.buffer), new Uint8Array(frame.buffer));
    const bytes = wavBytes(two, { formatTag: 3, bitsPerSample: 64, channels });
    assert.deepEqual(Array.from(decodeEveryWay(bytes).samples), [0.25, 0.25]);
    // 65535 channels of 16-bit would need a block align of 131070, which 16 bits cannot hold.
    assert.throws(() => decode([wavBytes(new Uint8Array(4), { channels: 65_535 })]), audioError(/block align/));
  });

  it('a second fmt chunk, or a second data chunk, changes nothing', () => {
    const first = wavBytes(pcm);
    const bytes = concatBytes(first, chunk('data', s16le([0.9, 0.9])));
    assert.deepEqual(Array.from(decodeEveryWay(bytes).samples), [0.5, -0.5, 0.25, -0.25]);
  });
});
