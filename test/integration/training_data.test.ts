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

describe('distillation tools (teacher.py, train_kws12.py --teacher; tried for kws12, not in run.sh)', () => {
  // A folder in the Speech Commands layout from the fixture clips, each under four speaker names so
  // that both sides of the speaker split hold every label, plus a background-noise recording.
  const folder = (): string => {
    const dir = tempDir();
    for (const word of readdirSync(FIXTURES).filter((w) => !w.endsWith('.md'))) {
      mkdirSync(join(dir, word));
      readdirSync(join(FIXTURES, word)).forEach((f, i) => {
        for (const s of ['a', 'b', 'c', 'd']) copyFileSync(join(FIXTURES, word, f), join(dir, word, `${s}${i}_nohash_0.flac`));
      });
    }
    mkdirSync(join(dir, '_background_noise_'));
    assert.equal(spawnSync('sox', ['-n', '-r', '16000', '-b', '16', join(dir, '_background_noise_', 'white.wav'), 'synth', '8', 'whitenoise', 'vol', '0.05']).status, 0);
    return dir;
  };
  const run = (script: string, args: string[]): { stdout: string; stderr: string } => {
    const r = spawnSync(PY, [join(ROOT, 'training', script), ...args], { encoding: 'utf8', cwd: join(ROOT, 'training'), timeout: 240_000 });
    assert.equal(r.status, 0, r.stderr);
    return { stdout: r.stdout, stderr: r.stderr };
  };
  const loss = (stdout: string): number => Number(/epoch 1\/1 loss ([\d.]+)/.exec(stdout)?.[1]);

  it('the CNN teacher trains and saves; the student loads it beside an LMUFormer teacher, and the distillation term changes its loss', { skip: torch || sox }, () => {
    const data = folder();
    const out = tempDir();
    const common = ['--data', data, '--cache', '', '--val-percent', '50', '--epochs', '1', '--steps-per-epoch', '2'];
    const t = run('teacher.py', [...common, '--batch', '8', '--width', '8', '--out', join(out, 'teacher')]);
    assert.match(t.stdout, /\[teacher\] epoch 1\/1 loss [\d.]+ \| top-1 [\d.]+ FA [\d.]+ acc12 [\d.]+/);
    const student = ['--depth', '1', '--batch-clips', '8', '--batch-seq', '2', '--val-sequences', '4'];
    const base = run('train_kws12.py', [...common, ...student, '--out', join(out, 'base')]);
    const kd = run('train_kws12.py', [...common, ...student, '--init', join(out, 'base', 'best_model.pth'),
      '--teacher', join(out, 'teacher', 'teacher.pt'), join(out, 'base', 'best_model.pth'), '--out', join(out, 'kd')]);
    assert.match(kd.stdout, /distilling from .*teacher\.pt \(TeacherCnn\)/);
    assert.match(kd.stdout, /distilling from .*base\/best_model\.pth \(LmuFormer\)/);
    const again = run('train_kws12.py', [...common, ...student, '--init', join(out, 'base', 'best_model.pth'), '--out', join(out, 'again')]);
    assert.ok(Number.isFinite(loss(kd.stdout)) && Number.isFinite(loss(again.stdout)), `${kd.stdout}\n${again.stdout}`);
    assert.notEqual(loss(kd.stdout), loss(again.stdout), 'the same start and examples with and without teachers gave the same loss');
    assert.ok(Number.isFinite(loss(base.stdout)));
    assert.ok(readFileSync(join(out, 'kd', 'best_model.pth')).length > 0);
  });
});
