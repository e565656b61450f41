import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy, type NpyArray } from '../../runtime/io/npy.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { makeWav, tone } from '../helpers/wav.js';
import { wavBytes, s16le } from '../helpers/wav_bytes.js';

const dir = tempDir();
const goldenDir = join(GOLDEN, 'frontend');
const goldenWavs = existsSync(goldenDir) ? readdirSync(goldenDir).filter((f) => f.endsWith('.wav') && existsSync(join(goldenDir, f.replace(/\.wav$/, '.fbank.npy')))).sort() : [];

function maxAbs(a: NpyArray, b: NpyArray): number {
  assert.deepEqual(a.shape, b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe('edgestream features (the built CLI)', () => {
  it('writes the golden raw and normalised log-mel of every golden WAV', () => {
    assert.ok(goldenWavs.length > 0, `no golden WAVs in ${goldenDir}`);
    for (const wav of goldenWavs) {
      for (const [flag, suffix] of [[[], 'fbank'], [['--normalize'], 'norm']] as const) {
        const out = join(dir, `${wav}.${suffix}.npy`);
        const r = runCli(['features', join(goldenDir, wav), '--out', out, ...flag]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /frames × 128/);
        const got = readNpy(readFileBytes(out));
        assert.equal(got.dtype, '<f4');
        const want = readNpy(readFileBytes(join(goldenDir, wav.replace(/\.wav$/, `.${suffix}.npy`))));
        const err = maxAbs(got, want);
        assert.ok(err <= 1e-3, `${wav} ${suffix}: max abs error ${err}`);
      }
    }
  });

  it('reads WAV from stdin with an arecord-style placeholder length, and raw PCM with --format/--rate', () => {
    const signal = Float64Array.from(tone(48000, 48000, 300, 0.4), (v, i) => v * (1 + Math.sin(i / 3000)));
    const file = join(dir, 'tone48.wav');
    writeFileSync(file, makeWav(signal, 48000, '16'));
    const fromFile = join(dir, 'file.npy');
    assert.equal(runCli(['features', file, '--out', fromFile]).status, 0);

    const piped = wavBytes(s16le(signal), { sampleRate: 48000, dataSize: 0x7fffffff });
    const fromStdin = join(dir, 'stdin.npy');
    const a = runCli(['features', '-', '--out', fromStdin], { input: piped });
    assert.equal(a.status, 0, a.stderr);
    assert.doesNotMatch(a.stderr, /truncated/);
    assert.deepEqual(readNpy(readFileBytes(fromStdin)).data, readNpy(readFileBytes(fromFile)).data);

    const raw = join(dir, 'tone48.s16');
    writeFileSync(raw, s16le(signal));
    const fromRaw = join(dir, 'raw.npy');
    const b = runCli(['features', raw, '--format', 's16le', '--rate', '48000', '--out', fromRaw]);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stderr, /48000 Hz s16le mono raw/);
    assert.deepEqual(readNpy(readFileBytes(fromRaw)).data, readNpy(readFileBytes(fromFile)).data);
  });

  it('decodes a truncated WAV, says so, and writes what was there', () => {
    const full = makeWav(tone(16000, 16000, 500, 0.5), 16000, '16');
    const cut = join(dir, 'cut.wav');
    writeFileSync(cut, full.subarray(0, 44 + 8001));
    const out = join(dir, 'cut.npy');
    const r = runCli(['features', cut, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /declares 32000 bytes but 8001 are present/);
    assert.deepEqual(readNpy(readFileBytes(out)).shape, [1 + Math.floor((4000 - 400) / 160), 128]);
  });

  it('fails with exit 2 and E_AUDIO_FORMAT on bad audio, writing nothing', () => {
    const cases: [string, Uint8Array, string[]][] = [
      ['mulaw.wav', wavBytes(new Uint8Array(100), { formatTag: 7, bitsPerSample: 8 }), []],
      ['garbage.wav', new TextEncoder().encode('this is not audio at all'), []],
      ['cut-header.wav', makeWav(tone(800, 16000, 500, 0.5), 16000, '16').subarray(0, 30), []],
      ['raw-without-rate.s16', s16le([0.1, 0.2]), ['--format', 's16le']],
    ];
    for (const [name, bytes, extra] of cases) {
      const input = join(dir, name);
      writeFileSync(input, bytes);
      const out = join(dir, `${name}.npy`);
      const r = runCli(['features', input, '--out', out, ...extra]);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /^edgestream: E_(AUDIO_FORMAT|USAGE): /, name);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
      assert.equal(existsSync(out), false, `${name}: no output file`);
    }
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, 'no temporary files left');
  });

  it('conformance runs the front-end golden directory', () => {
    const r = runCli(['conformance', goldenDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${goldenWavs.length}/${goldenWavs.length} within tolerance`));
  });
});
