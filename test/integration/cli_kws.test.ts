import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeS16le, readWavSamples } from '../../runtime/audio/wav_samples.js';
import { runCli } from '../helpers/cli.js';
import { goldenModelBytes } from '../helpers/golden_model.js';
import { ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { makeWav } from '../helpers/wav.js';

// The keyword-spotting commands' mechanics (formats, streaming, errors) with a golden-imported
// model; detection quality with the trained demo model is tested in demo_detection.test.ts.
const dir = tempDir();
const model = join(dir, 'model.safetensors');
writeFileSync(model, goldenModelBytes('slmu_rnn_ms_conv1d-d64'));
const FIXTURES = join(ROOT, 'test/fixtures/kws');
const PHRASE = join(ROOT, 'test/fixtures/kws-phrases/phrase-left.wav');

/** A WAV as `arecord` writes it to a pipe: sizes unknown, set to the 0x7FFFFFFF placeholder. */
function asArecordStream(wav: Uint8Array): Uint8Array {
  const b = wav.slice();
  const v = new DataView(b.buffer);
  v.setUint32(4, 0x7fffffff, true);
  let p = 12;
  while (p + 8 <= b.length) {
    const id = String.fromCharCode(...b.subarray(p, p + 4));
    const size = v.getUint32(p + 4, true);
    if (id === 'data') {
      v.setUint32(p + 4, 0x7fffffff, true);
      break;
    }
    p += 8 + size + (size & 1);
  }
  return b;
}

function pcm16(path: string): Uint8Array {
  return encodeS16le(readWavSamples(path).samples);
}

describe('classify', () => {
  it('one JSON object per file; a bad file is reported and the others still classified', () => {
    const bad = join(dir, 'bad.wav');
    writeFileSync(bad, new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3])); // "RIFF" and garbage
    const files = [join(FIXTURES, 'yes__midlands-m.wav'), bad, join(FIXTURES, '_silence___digital-silence.wav')];
    const r = runCli(['classify', model, ...files, '--json', '--backend', 'js']);
    assert.equal(r.status, 2, 'a file failed');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    for (const i of [0, 2]) {
      assert.deepEqual(Object.keys(lines[i]).sort(), ['detected', 'file', 'label', 'score']);
      assert.equal(lines[i].file, files[i]);
      assert.ok(lines[i].score >= 0 && lines[i].score <= 1);
      assert.equal(lines[i].label === '_unknown_', !lines[i].detected);
    }
    assert.equal(lines[1].error.code, 'E_AUDIO_FORMAT');
    assert.match(r.stderr, /bad\.wav: E_AUDIO_FORMAT/);
  });
});

describe('options out of range', () => {
  it('classify --threshold 2 / --backend gpu: E_USAGE naming the option and what it allows, not a stack trace', () => {
    const r = runCli(['classify', model, join(FIXTURES, 'yes__midlands-m.wav'), '--threshold', '2']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^edgestream: E_USAGE: option '--threshold <p>' argument '2' is invalid\. must be a number from 0 to 1/);
    assert.doesNotMatch(r.stderr, /ZodError|internal error|\n\s+at /);
    const b = runCli(['classify', model, join(FIXTURES, 'yes__midlands-m.wav'), '--backend', 'gpu']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /E_USAGE: .*'gpu' is invalid\. Allowed choices are auto, js, wasm, wasm-relaxed, onnx/);
  });
});

describe('eval', () => {
  it('reports accuracy, confusion, false accepts and the accuracy-over-the-clip curve (JSON + SVG)', () => {
    const out = join(dir, 'report.json');
    const svg = join(dir, 'chart.svg');
    const r = runCli(['eval', model, FIXTURES, '--out', out, '--svg', svg, '--backend', 'js']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    const wavs = readdirSync(FIXTURES).filter((f) => f.endsWith('.wav'));
    const keywords = wavs.filter((f) => !f.startsWith('_')).length;
    assert.equal(report.clips, wavs.length);
    assert.equal(report.keywordClips, keywords);
    assert.equal(report.negativeClips, wavs.length - keywords);
    assert.equal(report.curve.length, 10);
    assert.equal(report.curve.at(-1).top1, report.top1, 'the full clip is the last point of the curve');
    const confused = Object.values(report.confusion as Record<string, Record<string, number>>).reduce((a, row) => a + Object.values(row).reduce((x, y) => x + y, 0), 0);
    assert.equal(confused, keywords);
    assert.equal(report.misses.length, keywords - Math.round(report.top1 * keywords));
    assert.match(readFileSync(svg, 'utf8'), /^<svg[^>]+xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    assert.match(r.stdout, /top-1 .* false accepts/);
  });

  it('without --svg / --det-svg the charts go next to --out (<out>-accuracy.svg, <out>-det.svg), not into the working directory', () => {
    const sub = join(dir, 'charts');
    mkdirSync(sub, { recursive: true });
    const cwd = tempDir();
    const r = runCli(['eval', model, FIXTURES, '--out', join(sub, 'run.json'), '--backend', 'js'], { cwd });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(sub).sort(), ['run-accuracy.svg', 'run-det.svg', 'run.json']);
    assert.deepEqual(readdirSync(cwd), []);
  });

  it('--int8 runs the int8 weights: scores move a little, not at all would mean the flag was ignored', () => {
    const clips = readdirSync(FIXTURES).filter((f) => f.endsWith('.wav')).slice(0, 6).map((f) => join(FIXTURES, f));
    const scores = (extra: string[]): number[][] => {
      const r = runCli(['classify', model, ...clips, '--json', '--scores', '--backend', 'wasm', ...extra]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => Object.values(JSON.parse(l).scores as Record<string, number>));
    };
    const f32 = scores([]);
    const int8 = scores(['--int8']);
    let worst = 0;
    f32.forEach((row, i) => row.forEach((s, k) => (worst = Math.max(worst, Math.abs(s - int8[i]![k]!)))));
    assert.ok(worst > 0, 'int8 scores equal the float32 ones');
    assert.ok(worst < 0.1, `int8 scores off by ${worst}`);
  });

  it('an empty folder is an error', () => {
    const r = runCli(['eval', model, tempDir(), '--out', join(dir, 'x.json'), '--svg', join(dir, 'x.svg')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /E_IO: .*no \.wav files/);
  });
});

describe('listen', () => {
  // A zero threshold makes the random-weight model fire as often as the refractory period allows:
  // enough events to compare the input paths with each other.
  const common = ['--json', '--threshold', '0', '--backend', 'js'];
  const events = (stdout: string): string[] => stdout.trim().split('\n').filter(Boolean).map((l) => {
    const e = JSON.parse(l);
    return `${e.label}@${e.start_ms}-${e.end_ms}:${e.score}`;
  });

  it('a WAV file, the same WAV piped on stdin like arecord, and raw s16le on stdin give the same events', () => {
    const fromFile = runCli(['listen', model, PHRASE, ...common]);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    const ev = events(fromFile.stdout);
    assert.ok(ev.length >= 2, `events: ${ev.length}`);
    const piped = runCli(['listen', model, '-', ...common], { input: asArecordStream(new Uint8Array(readFileSync(PHRASE))) });
    assert.equal(piped.status, 0, piped.stderr);
    assert.deepEqual(events(piped.stdout), ev);
    const raw = runCli(['listen', model, '-', '--format', 's16le', '--rate', '16000', ...common], { input: pcm16(PHRASE) });
    assert.equal(raw.status, 0, raw.stderr);
    assert.deepEqual(events(raw.stdout), ev);
  });

  it('--warmup-ms: the first second is held back by default; 0 keeps it, and the rest is the same', () => {
    const whole = runCli(['listen', model, PHRASE, ...common, '--warmup-ms', '0']);
    assert.equal(whole.status, 0, whole.stderr);
    const all = whole.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { end_ms: number });
    assert.ok(all.some((e) => e.end_ms < 1000), 'a zero threshold fires in the first second');
    const byDefault = runCli(['listen', model, PHRASE, ...common]);
    assert.deepEqual(events(byDefault.stdout), events(all.filter((e) => e.end_ms >= 1000).map((e) => JSON.stringify(e)).join('\n')));
    const bad = runCli(['listen', model, PHRASE, '--warmup-ms', '-5']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /E_USAGE: --warmup-ms/);
  });

  it('a lone clip that the warm-up silences gets a note saying why and pointing to classify; longer audio and --warmup-ms 0 do not', () => {
    const clip = join(dir, 'clip.wav');
    const { samples, rate } = readWavSamples(PHRASE);
    writeFileSync(clip, makeWav(samples.subarray(0, rate), rate, '16'));
    // threshold 1: no event anywhere, so only the length decides whether the note is printed
    const lone = runCli(['listen', model, clip, '--json', '--threshold', '1']);
    assert.equal(lone.status, 0, lone.stderr);
    assert.equal(lone.stdout, '');
    assert.match(lone.stderr, /clip\.wav is 1\.00 s long, and events in a stream's first 1000 ms are held back \(--warmup-ms 0 keeps them\); `edgestream classify` decides single clips/);
    assert.doesNotMatch(runCli(['listen', model, clip, '--json', '--threshold', '1', '--warmup-ms', '0']).stderr, /held back/);
    assert.doesNotMatch(runCli(['listen', model, PHRASE, '--json', '--threshold', '1']).stderr, /held back/);
  });

  it('events carry the MQTT keyword-event fields', () => {
    const r = runCli(['listen', model, PHRASE, ...common, '--device', 'porch']);
    const e = JSON.parse(r.stdout.trim().split('\n')[0]!);
    for (const k of ['event_type', 'label', 'score', 'threshold', 'start_ms', 'end_ms', 'device', 'id', 'ts', 'model', 'model_version']) assert.ok(k in e, k);
    assert.equal(e.device, 'porch');
    assert.equal(e.id, `porch-${e.start_ms}`);
    assert.ok(e.end_ms > e.start_ms);
  });

  it('bad input: unknown format, bad device id, an unsupported WAV encoding', () => {
    const r1 = runCli(['listen', model, '-', '--format', 'mp3'], { input: '' });
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /E_USAGE: --format/);
    const r2 = runCli(['listen', model, PHRASE, '--device', 'a/b#']);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /E_USAGE: --device/);
    const mulaw = new Uint8Array(readFileSync(PHRASE));
    new DataView(mulaw.buffer).setUint16(20, 7, true); // WAVE_FORMAT_MULAW
    const f = join(dir, 'mulaw.wav');
    writeFileSync(f, mulaw);
    const r3 = runCli(['listen', model, f]);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /E_AUDIO_FORMAT/);
  });
});
