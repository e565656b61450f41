// Decision defaults for a keyword model, calibrated on continuous speech of the validation speakers
// (make_stream.py), through the runtime exactly as `listen` and the service run it: for every
// smoothing length and refractory period tried, the threshold sweep of the stream evaluation; the
// setting kept finds the most commands with at most --max-fa false alarms per minute, and its
// threshold also keeps the validation clips' false accepts at most --max-clip-fa. Several streams
// count as one (commands found and false alarms summed over all their minutes): a false-alarm rate
// from one 10-minute stream rests on a handful of events and moved from 0.4 to 1.2 per minute
// between two streams of the same speakers. A peak window holds every event back until the score
// has stopped rising (up to its length, 200 ms at 20 frames): a setting with one is kept only if it
// finds at least --min-gain-for-delay (default 1 %, four commands of 410) more than the best
// setting without; smaller differences are noise that users would pay for in latency.
// With --clip-report it also picks the threshold for whole clips (`classify`, `eval` of clips):
// the one that finds the most commands while accepting at most --clip-fa (default 2 %, under half
// the 5 % target) of the validation clips of other words and silence (the highest such threshold).
// One clip is one decision, so the stream's bar (set by false alarms per minute of continuous
// audio) would reject most clips that are right.
//
//   node training/calibrate_stream.mjs <model.safetensors> <val-stream.wav>… [--clip-report eval.json [--clip-fa 0.02]] [--max-fa 0.5] [--min-gain-for-delay 0.01] [--json out.json]
// Prints the chosen settings as JSON (threshold, smoothFrames, refractoryMs, peakFrames, windowFrames; clipThreshold with --clip-report) on stdout.
// CALIBRATE_GRID (e.g. "smooth=1,5,8;refractory=500,1000;peak=0,20,40;window=80,96,128") sets what is tried.
import { readFileSync, writeFileSync } from 'node:fs';
// The package root (built): it registers the model families that loadModel needs.
import { computeFeatures, evaluateStream, loadModel, parseStreamTruth } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const maxFa = Number(opt('--max-fa', '0.5'));
const jsonOut = opt('--json');
const clipReport = opt('--clip-report'); // `edgestream eval` of the validation clips (its DET curve)
const maxClipFa = Number(opt('--max-clip-fa', '0.04'));
const clipFa = Number(opt('--clip-fa', '0.02'));
const minGainForDelay = Number(opt('--min-gain-for-delay', '0.01'));
const [modelPath, ...wavPaths] = args;
if (!modelPath || wavPaths.length === 0) {
  process.stderr.write('usage: node training/calibrate_stream.mjs <model.safetensors> <stream.wav>… [--max-fa 0.5] [--clip-report eval.json --max-clip-fa 0.04] [--min-gain-for-delay 0.01] [--json out.json]\n');
  process.exit(2);
}
const model = await loadModel(modelPath, { backend: 'wasm' });
const streams = wavPaths.map((wavPath) => {
  const truth = parseStreamTruth(JSON.parse(readFileSync(wavPath.replace(/\.wav$/, '.json'), 'utf8')), wavPath);
  const feats = computeFeatures(new Uint8Array(readFileSync(wavPath)), model.frontend, { normalize: true });
  const frames = Array.from({ length: feats.frames }, (_, t) => feats.data.subarray(t * feats.featureSize, (t + 1) * feats.featureSize));
  return { truth, frames };
});
/** The streams' threshold sweeps summed into one: commands found and false alarms over all their minutes. */
function evaluateStreams(decision) {
  const reports = streams.map((s) => evaluateStream(model, s.frames, s.truth, { decision }));
  const minutes = reports.reduce((a, r) => a + r.minutes, 0);
  const commands = reports.reduce((a, r) => a + r.commands, 0);
  const det = reports[0].det.map((p, i) => {
    const at = reports.map((r) => r.det[i]);
    if (at.some((q) => q.threshold !== p.threshold)) throw new Error('the streams\' threshold sweeps differ');
    const missed = at.reduce((a, q, k) => a + Math.round(q.missRate * reports[k].commands), 0);
    return { threshold: p.threshold, missRate: missed / commands, falseAccepts: at.reduce((a, q) => a + q.falseAccepts, 0) };
  });
  return { minutes, det };
}
// The lowest threshold the clips allow: accepting at most maxClipFa of the validation negatives.
let clipFloor = 0;
// The clips' own threshold (for classify and eval of clips).
let clipThreshold = null;
if (clipReport) {
  const r = JSON.parse(readFileSync(clipReport, 'utf8'));
  const allowed = (limit) => r.det.filter((p) => p.falseAccepts / r.negativeClips <= limit);
  const lowest = (limit) => Math.min(1, ...allowed(limit).map((p) => p.threshold));
  clipFloor = lowest(maxClipFa);
  // The lowest allowed threshold misses the fewest clips; of the thresholds that miss no more, the
  // highest (a softmax model's clips decided by argmax alone would otherwise take any score).
  const ok = allowed(clipFa);
  if (ok.length === 0) {
    clipThreshold = 1;
    process.stderr.write(`clips: no threshold accepts at most ${clipFa} of the other words and silence; clip threshold 1\n`);
  } else {
    const fewest = Math.min(...ok.map((p) => p.missRate));
    const at = ok.filter((p) => p.missRate === fewest).reduce((a, p) => (p.threshold > a.threshold ? p : a));
    clipThreshold = at.threshold;
    process.stderr.write(`clips: threshold ${clipThreshold} accepts ${at.falseAccepts} of ${r.negativeClips} other words and silence, misses ${(100 * at.missRate).toFixed(1)} % of the commands\n`);
  }
}
const tried = [];
let minutes = 0; // of all the streams (the same for every setting)
// The head window (streamWindowFrames) is tried too: the training clip length (128 frames) is not
// always the best span to average a stream over (kws12: 80–96 found more at the same false alarms,
// also when chosen on one stream and judged on the other).
const grid = Object.fromEntries((process.env.CALIBRATE_GRID ?? 'smooth=1,5,8;refractory=500,1000;peak=0,20,40;window=80,96,128').split(';').map((p) => p.split('=')).map(([k, v]) => [k, v.split(',').map(Number)]));
const clipFrames = model.frontend.clipFrames;
for (const windowFrames of grid.window ?? [clipFrames]) for (const smoothFrames of grid.smooth) for (const refractoryMs of grid.refractory) for (const peakFrames of grid.peak) {
  {
    const r = evaluateStreams({ smoothFrames, refractoryMs, peakFrames, windowFrames });
    minutes = r.minutes;
    const ok = r.det.filter((p) => p.threshold >= clipFloor && p.falseAccepts / (r.minutes) <= maxFa);
    const best = ok.reduce((a, p) => (!a || p.missRate < a.missRate || (p.missRate === a.missRate && p.falseAccepts < a.falseAccepts) ? p : a), null);
    if (!best) continue;
    tried.push({ windowFrames, smoothFrames, refractoryMs, peakFrames, threshold: best.threshold, found: 1 - best.missRate, falseAlarmsPerMinute: best.falseAccepts / r.minutes });
    process.stderr.write(`window ${windowFrames} smooth ${smoothFrames} refractory ${refractoryMs} peak ${peakFrames}: threshold ${best.threshold} finds ${(100 * (1 - best.missRate)).toFixed(1)} % with ${(best.falseAccepts / r.minutes).toFixed(2)} false alarms/min\n`);
  }
}
if (tried.length === 0) {
  process.stderr.write('no setting meets the false-alarm limit\n');
  process.exit(1);
}
const most = (settings) => settings.reduce((a, b) => (!a || b.found > a.found + 1e-9 || (Math.abs(b.found - a.found) < 1e-9 && b.falseAlarmsPerMinute < a.falseAlarmsPerMinute) ? b : a), null);
const prompt = most(tried.filter((t) => t.peakFrames === 0));
const delayed = most(tried.filter((t) => t.peakFrames > 0));
const chosen = !prompt || (delayed && delayed.found >= prompt.found + minGainForDelay - 1e-9) ? delayed : prompt;
const result = { threshold: chosen.threshold, smoothFrames: chosen.smoothFrames, refractoryMs: chosen.refractoryMs, peakFrames: chosen.peakFrames, windowFrames: chosen.windowFrames, ...(clipThreshold !== null && { clipThreshold }) };
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ model: modelPath, streams: wavPaths, minutes, maxFa, clipFloor, maxClipFa, clipFa, clipThreshold, minGainForDelay, chosen, tried }, null, 1)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
