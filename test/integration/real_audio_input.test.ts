import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeFlac, flacDeclaredSamples } from '../../runtime/audio/flac_file.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// FLAC input (the format Speech Commands ships in) and the bad files a folder of real clips holds.
const FIXTURES = join(ROOT, 'test/fixtures/kws12');
const MODEL = join(ROOT, 'models/lmuformer/demo/kws35.safetensors');
const flacs = readdirSync(FIXTURES, { recursive: true }).map(String).filter((f) => f.endsWith('.flac')).sort().map((f) => join(FIXTURES, f));
const sox = spawnSync('sox', ['--version']).status === 0 ? false : 'sox is not installed (Debian package sox)';

describe('FLAC input', () => {
  it('decodes every fixture to exactly the samples sox (libFLAC) gives, scaled like torchaudio', { skip: sox }, async () => {
    assert.ok(flacs.length >= 30);
    for (const f of flacs) {
      const bytes = new Uint8Array(readFileSync(f));
      const got = await decodeFlac(bytes, f);
      const ref = spawnSync('sox', [f, '-t', 's16', '-'], { maxBuffer: 1 << 24 }).stdout as Buffer;
      const pcm = new Int16Array(ref.buffer, ref.byteOffset, ref.length / 2);
      assert.equal(got.sampleRate, 16000);
      assert.equal(got.samples.length, pcm.length, f);
      assert.equal(got.samples.length, flacDeclaredSamples(bytes), `${f}: every declared sample decoded`);
      for (let i = 0; i < pcm.length; i++) if (got.samples[i] !== pcm[i]! / 32768) assert.fail(`${f}: sample ${i}: ${got.samples[i]} vs ${pcm[i]! / 32768}`);
    }
  });

  it('corrupt, empty and truncated FLAC: a clear E_AUDIO_FORMAT, or a decode of what is there that says so', async () => {
    const good = new Uint8Array(readFileSync(flacs[0]!));
    const isAudioFormat = (e: unknown) => e instanceof EdgestreamError && e.code === 'E_AUDIO_FORMAT';
    await assert.rejects(decodeFlac(good.subarray(0, 3)), isAudioFormat);
    await assert.rejects(decodeFlac(Uint8Array.from([0x66, 0x4c, 0x61, 0x43, 1, 2, 3, 4, 5, 6, 7, 8])), isAudioFormat);
    const garbled = good.slice();
    garbled.fill(0x33, 40);
    await assert.rejects(decodeFlac(garbled), isAudioFormat);
    const truncated = await decodeFlac(good.subarray(0, Math.floor(good.length / 3)));
    assert.ok(truncated.samples.length < truncated.declaredSamples);
  });

  it('listen on a FLAC file gives what it gives on the same audio as WAV', { skip: sox }, () => {
    const dir = tempDir();
    const wav = join(dir, 'x.wav');
    spawnSync('sox', [flacs[0]!, flacs[5]!, flacs[10]!, wav]);
    const flac = join(dir, 'x.flac');
    spawnSync('sox', [wav, flac]);
    const opts = ['--json', '--threshold', '0.2', '--warmup-ms', '0', '--backend', 'js'];
    const a = runCli(['listen', MODEL, wav, ...opts]);
    const b = runCli(['listen', MODEL, flac, ...opts]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    const strip = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => { const e = JSON.parse(l); return `${e.label}@${e.start_ms}:${e.score}`; });
    assert.deepEqual(strip(b.stdout), strip(a.stdout));
  });
});

describe('a folder of real clips with bad files in it', () => {
  it('eval names each unreadable file, goes on with the rest, and --strict stops at the first', { skip: sox }, () => {
    const dir = tempDir();
    for (const w of ['yes', 'bed', '_background_noise_']) mkdirSync(join(dir, w));
    copyFileSync(flacs.find((f) => f.includes('/yes/'))!, join(dir, 'yes', 'good_nohash_0.flac'));
    spawnSync('sox', [flacs.find((f) => f.includes('/yes/'))!, '-r', '48000', '-c', '2', join(dir, 'yes', 'stereo48k_nohash_0.wav')]);
    spawnSync('sox', [flacs.find((f) => f.includes('/cat/'))!, join(dir, 'bed', 'short_nohash_0.wav'), 'trim', '0', '0.3']);
    writeFileSync(join(dir, 'bed', 'corrupt_nohash_0.flac'), Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(200, 7)]));
    writeFileSync(join(dir, 'bed', 'notaudio_nohash_0.wav'), 'hello');
    copyFileSync(flacs[0]!, join(dir, '_background_noise_', 'noise.flac')); // noise to mix, not a clip: skipped silently
    const out = join(tempDir(), 'r.json');
    const r = runCli(['eval', MODEL, dir, '--out', out, '--svg', join(dir, '..', 'a.svg'), '--backend', 'js']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /skipped .*corrupt_nohash_0\.flac: E_AUDIO_FORMAT/);
    assert.match(r.stderr, /skipped .*notaudio_nohash_0\.wav: E_AUDIO_FORMAT/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(report.clips, 3, 'the good FLAC, the stereo 48 kHz WAV and the short clip');
    assert.equal(report.skipped.length, 2);
    const strict = runCli(['eval', MODEL, dir, '--out', out, '--strict', '--backend', 'js']);
    assert.equal(strict.status, 2);
    assert.match(strict.stderr, /E_AUDIO_FORMAT: .*corrupt_nohash_0\.flac/);
  });
});
