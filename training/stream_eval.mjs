// Stream-level evaluation through the runtime (dist/, so `npm run build` first): a long recording
// with known keyword times (build.py --stream) is turned into features by the streaming front end
// and run through `KeywordSpotter` as `listen` and the service do: one session whose head averages
// the last 128 frames (`createSession({ headWindow })`), then the event detector (smoothing,
// thresholds, hysteresis, refractory period) with the model's stored decision defaults. An event is a hit when it names the
// keyword spoken and comes between the keyword's start and 1.3 s after its end; an event in that
// span with another label is a wrong label; any other event is a false alarm.
//
//   node training/stream_eval.mjs <model.safetensors> <stream.wav> [--thresholds 0.5,0.7] [--json out.json]
import { readFileSync, writeFileSync } from 'node:fs';
// The package root (built): it registers the model families that loadModel needs.
import { computeFeatures, KeywordSpotter, loadModel } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const jsonOut = opt('--json');
const thresholdsArg = opt('--thresholds');
const window = Number(opt('--window') ?? 128);
const backend = opt('--backend') ?? 'wasm';
const [modelPath, wavPath] = args;
if (!modelPath || !wavPath) {
  process.stderr.write('usage: node training/stream_eval.mjs <model.safetensors> <stream.wav> [--thresholds 0.5,0.7] [--window 128] [--json out.json]\n');
  process.exit(2);
}
const truth = JSON.parse(readFileSync(wavPath.replace(/\.wav$/, '.json'), 'utf8'));
const model = await loadModel(modelPath, { backend });
const stored = model.decision.threshold;
const thresholds = thresholdsArg ? thresholdsArg.split(',').map(Number) : [...new Set([stored ?? 0.5, 0.5, 0.7, 0.85])];
const feats = computeFeatures(new Uint8Array(readFileSync(wavPath)), model.frontend, { normalize: true });
const frames = Array.from({ length: feats.frames }, (_, t) => feats.data.subarray(t * feats.featureSize, (t + 1) * feats.featureSize));
const keywords = truth.keywords;
const keywordSeconds = keywords.reduce((s, k) => s + Math.min(k.end_s + 1.3, truth.seconds) - k.start_s, 0);
const otherMinutes = (truth.seconds - keywordSeconds) / 60;

function score(events) {
  const used = new Set();
  let hits = 0, wrong = 0, falseAlarms = 0;
  const missed = [];
  for (const e of events) {
    const end = e.end_ms / 1000;
    const i = keywords.findIndex((k, j) => !used.has(j) && end >= k.start_s && end <= k.end_s + 1.3);
    if (i >= 0 && keywords[i].label === e.label) { used.add(i); hits++; }
    else if (i >= 0) wrong++;
    else if (keywords.some((k) => end >= k.start_s && end <= k.end_s + 1.3)) continue; // a repeat on a found keyword
    else falseAlarms++;
  }
  keywords.forEach((k, j) => { if (!used.has(j)) missed.push(k.label); });
  return { hits, keywords: keywords.length, hit_rate: hits / keywords.length, wrong_label: wrong, false_alarms: falseAlarms,
    false_alarms_per_minute: falseAlarms / otherMinutes, events: events.length, missed };
}

const results = [];
for (const threshold of thresholds) {
  // what `listen` and the service run: one session whose head averages the last `window` frames,
  // then smoothing, thresholds, hysteresis and the refractory period
  const spotter = new KeywordSpotter(model, { threshold, windowFrames: window });
  const ev = [];
  for (const f of frames) { const e = spotter.pushFrame(f); if (e) ev.push(e); }
  ev.push(...spotter.flush());
  results.push({ policy: `windowed head ${window}`, threshold, ...score(ev) });
}
const report = { model: modelPath, stream: wavPath, seconds: truth.seconds, keywords: keywords.length,
  non_keyword_minutes: Number(otherMinutes.toFixed(2)), stored_threshold: stored ?? null, results };
for (const r of results) {
  process.stdout.write(`${r.policy} threshold ${r.threshold.toFixed(2)}: hits ${r.hits}/${r.keywords} (${(100 * r.hit_rate).toFixed(1)} %), `
    + `wrong label ${r.wrong_label}, false alarms ${r.false_alarms} (${r.false_alarms_per_minute.toFixed(2)}/min of other audio)\n`);
}
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(report, null, 1)}\n`);
