import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// The training recipe's data reader (training/speech_commands.py) on a folder in the Speech
// Commands layout with bad files in it: each is named with what is wrong, and the rest is used.
const PY = '/usr/bin/python3';
const torch = spawnSync(PY, ['-c', 'import torch, torchaudio, scipy'], { encoding: 'utf8' }).status === 0
  ? false : 'Debian\'s python3 with torch is missing (packages python3-torch python3-torchaudio python3-scipy)';
const sox = spawnSync('sox', ['--version']).status === 0 ? false : 'sox is not installed (Debian package sox)';
const FIXTURES = join(ROOT, 'test/fixtures/kws12');

describe('training data reader', () => {
  it('skips unreadable files naming them, warns about stereo and truncated ones, resamples 48 kHz, splits by speaker', { skip: torch || sox }, () => {
    const dir = tempDir();
    const yes = readdirSync(join(FIXTURES, 'yes')).map((f) => join(FIXTURES, 'yes', f));
    for (const w of ['yes', 'bed', '_silence_']) mkdirSync(join(dir, w));
    yes.forEach((f, i) => copyFileSync(f, join(dir, 'yes', `spk${i}_nohash_0.flac`)));
    spawnSync('sox', [yes[0]!, '-r', '48000', '-c', '2', join(dir, 'yes', 'stereo_nohash_0.wav')]);
    const whole = readdirSync(join(FIXTURES, 'cat')).map((f) => join(FIXTURES, 'cat', f))[0]!;
    copyFileSync(whole, join(dir, 'bed', 'cat_nohash_0.flac'));
    writeFileSync(join(dir, 'bed', 'trunc_nohash_0.flac'), readFileSync(whole).subarray(0, Math.floor(readFileSync(whole).length * 0.6)));
    writeFileSync(join(dir, 'bed', 'junk_nohash_0.wav'), 'not audio');
    writeFileSync(join(dir, 'bed', 'empty_nohash_0.flac'), '');
    const r = spawnSync(PY, [join(ROOT, 'training/speech_commands.py'), dir, '--val-percent', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.match(r.stderr, /junk_nohash_0\.wav: unreadable .*skipped/);
    assert.match(r.stderr, /empty_nohash_0\.flac: unreadable .*skipped/);
    assert.match(r.stderr, /stereo_nohash_0\.wav: 2 channels; the first is used/);
    assert.match(r.stderr, /trunc_nohash_0\.flac: truncated/);
    assert.equal(report.train.skipped, 2);
    assert.equal(report.train.labels.yes, yes.length + 1);
    assert.equal(report.train.labels._unknown_, 2, 'bed clips are _unknown_ (the truncated one is used)');
  });
});
