import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { decodeFlac } from '../../runtime/audio/flac_file.js';
import { readWavSamples } from '../../runtime/audio/wav_samples.js';
import { evaluateClips, type LabelledClip } from '../../runtime/decisions/evaluate.js';
import { evaluateStream, parseStreamTruth } from '../../runtime/decisions/stream_evaluation.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { createKeywordSpotter } from '../../runtime/tasks/keyword_spotter.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// The shipped 12-class model on real speech of speakers it was never trained on (the validation
// speakers of training/run.sh): a fixture set of real clips, the bundled sample and 48 kHz phrases
// (the phrases only for the default kws12; kws12-spiking is its spiking counterpart, much weaker).
// The floors below are what was measured with the shipped file (training/README.md: 28/30 named
// right, 28/30 detected at the stored clip threshold with 0 of 12 accepted, 9/10 of the sample with
// no false alarm, 8/8 phrases with one event elsewhere), minus a margin of about one clip or one
// event (top-1 keeps the floor of the model before, 28/30): a model that hears people less well
// fails here.
const DEMO = join(ROOT, 'models/lmuformer/demo');
const FIXTURES = join(ROOT, 'test/fixtures/kws12');
const SAMPLE = join(DEMO, 'sample.wav');
const PHRASES = join(ROOT, 'test/fixtures/kws12-phrases/phrases-48k.flac');
const FLOORS = {
  kws12: { top1: 28, clipDetected: 27, clipFalseAccepts: 1, sampleFound: 8, sampleFalseAlarms: 1, phrasesFound: 7, phrasesOtherEvents: 2, sampleWords: ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'] },
  // measured: 24/30 named, 20/30 detected, 1 of 12 accepted, 4/10 of the sample with no false alarm
  'kws12-spiking': { top1: 23, clipDetected: 19, clipFalseAccepts: 2, sampleFound: 3, sampleFalseAlarms: 1 },
};

async function fixtureClips(model: Model): Promise<LabelledClip[]> {
  const files = readdirSync(FIXTURES, { recursive: true }).map(String).filter((f) => f.endsWith('.flac')).sort();
  const clips: LabelledClip[] = [];
  for (const f of files) {
    const audio = await decodeFlac(new Uint8Array(readFileSync(join(FIXTURES, f))), f);
    const feats = computeFeatures(audio.samples, model.frontend!, { normalize: true, inputRate: audio.sampleRate });
    const frames = Array.from({ length: feats.frames }, (_, t) => feats.data.subarray(t * feats.featureSize, (t + 1) * feats.featureSize));
    clips.push({ label: basename(dirname(join(FIXTURES, f))), frames, name: f });
  }
  return clips;
}

function sampleFrames(model: Model, samples: Float32Array, rate: number): Float32Array[] {
  const feats = computeFeatures(samples, model.frontend!, { normalize: true, inputRate: rate });
  return Array.from({ length: feats.frames }, (_, t) => feats.data.subarray(t * feats.featureSize, (t + 1) * feats.featureSize));
}

for (const [name, floor] of Object.entries(FLOORS)) {
  describe(`${name} on real speech of unseen speakers`, () => {
    it(`fixture clips: at least ${floor.top1} of 30 named right and ${floor.clipDetected} detected at the stored clip threshold, at most ${floor.clipFalseAccepts} of the other words and silence accepted`, async () => {
      const model = await loadModel(join(DEMO, `${name}.safetensors`));
      const r = evaluateClips(model, await fixtureClips(model));
      assert.equal(r.keywordClips, 30);
      const count = (rate: number, of: number): number => Math.round(rate * of); // the report's rates are rounded to 4 places
      assert.ok(count(r.top1, 30) >= floor.top1, `top-1 ${r.top1} (misses: ${r.misses.map((m) => `${m.name}→${m.predicted}`).join(', ')})`);
      assert.ok(count(r.detectionRate, 30) >= floor.clipDetected, `detected ${r.detectionRate} at threshold ${r.threshold}`);
      assert.ok(count(r.falseAcceptRate, r.negativeClips) <= floor.clipFalseAccepts, `false accepts: ${r.falseAccepts.map((f) => `${f.name}→${f.label}`).join(', ')}`);
    });

    it(`the bundled sample: at least ${floor.sampleFound} of its 10 commands found with the right label, at most ${floor.sampleFalseAlarms} false alarms`, async () => {
      const model = await loadModel(join(DEMO, `${name}.safetensors`));
      const truth = parseStreamTruth(JSON.parse(readFileSync(join(DEMO, 'sample.json'), 'utf8')), 'sample.json');
      const { samples, rate } = readWavSamples(SAMPLE);
      const r = evaluateStream(model, sampleFrames(model, samples, rate), truth);
      assert.equal(r.commands, 10);
      assert.ok(r.found >= floor.sampleFound, `found ${r.found}; missed ${r.missed.map((m) => m.label).join(', ')}`);
      assert.ok(r.falseAlarms <= floor.sampleFalseAlarms, `false alarms: ${r.events.filter((e) => e.verdict !== 'hit').map((e) => `${e.label}@${e.end_ms} (${e.verdict})`).join(', ')}`);
    });
  });
}

describe('the default model hears a person at 48 kHz', () => {
  const sox = spawnSync('sox', ['--version']).status === 0 ? false : 'sox is not installed (Debian package sox)';
  it('the bundled sample resampled to 48 kHz by sox: the front end resamples it back and the spotter still finds its commands in order', { skip: sox }, async () => {
    const wav48 = join(tempDir(), 'sample48k.wav');
    assert.equal(spawnSync('sox', [SAMPLE, '-r', '48000', wav48]).status, 0);
    const spotter = await createKeywordSpotter('kws12');
    const events = [...spotter.push(new Uint8Array(readFileSync(wav48))), ...spotter.flush()];
    spotter.close();
    const said = (JSON.parse(readFileSync(join(DEMO, 'sample.json'), 'utf8')) as { events: { label: string }[] }).events.map((e) => e.label);
    const commands = said.filter((w) => FLOORS.kws12.sampleWords.includes(w));
    // every event is the next command said (in order, none invented), and enough of them are found
    let next = 0;
    for (const e of events) {
      const at = commands.indexOf(e.label, next);
      assert.ok(at >= 0, `${e.label} at ${e.end_ms} ms is not a command said after the previous event`);
      next = at + 1;
    }
    assert.ok(events.length >= FLOORS.kws12.sampleFound, `found ${events.map((e) => e.label).join(' ')}`);
  });
});

describe('`edgestream listen kws12` on short phrases of real people recorded at 48 kHz', () => {
  it('finds "left" and "right" between two other words of the same speaker (FLAC, 48 kHz, resampled by the front end)', () => {
    const r = spawnSync(process.execPath, [CLI, 'listen', 'kws12', PHRASES, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { label: string; start_ms: number; end_ms: number });
    const truth = (JSON.parse(readFileSync(PHRASES.replace(/\.flac$/, '.json'), 'utf8')) as { rate: number; events: { label: string; start_ms: number; end_ms: number }[] });
    assert.equal(truth.rate, 48000);
    const commands = truth.events.filter((w) => w.label === 'left' || w.label === 'right');
    assert.equal(commands.length, 8);
    // an event names a command when it carries its label and is decided while it is said or within 1.3 s after
    const heard = (w: { label: string; start_ms: number; end_ms: number }) => (e: { label: string; end_ms: number }) =>
      e.label === w.label && e.end_ms >= w.start_ms && e.end_ms <= w.end_ms + 1300;
    const found = commands.filter((w) => events.some(heard(w)));
    const other = events.filter((e) => !commands.some((w) => heard(w)(e)));
    const floor = FLOORS.kws12;
    assert.ok(found.length >= floor.phrasesFound, `found ${found.length} of 8: ${events.map((e) => `${e.label}@${e.end_ms}`).join(' ')}`);
    assert.ok(other.length <= floor.phrasesOtherEvents, `events that name no command said: ${other.map((e) => `${e.label}@${e.end_ms}`).join(' ')}`);
  });
});
