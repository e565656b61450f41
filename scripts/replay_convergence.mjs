#!/usr/bin/env node
// How much audio a cluster worker must run again through a keyword stream it takes over
// (`cluster.audioReplayMs`, docs/cluster.md): the keyword model's recurrent state is not in the
// snapshot, so the next owner restarts the pipeline `audioReplayMs` before the last processed
// chunk and publishes only events ending after that chunk minus the decision lag. For every
// restart point of the audio (one per `--step` ms, default 1000) and every replay length, this compares the events the
// restarted pipeline decides after the decide-from point with the uninterrupted run's (same start,
// end, label). It also measures the decision lag the worker assumes (500 ms + peakFrames × 10 ms):
// how far the processed audio had gone past an event's end when the event came out.
// `npm run build && node scripts/replay_convergence.mjs [--model f] [--audio wav] [--threshold x] [--loops n] [--step ms] [--offset ms]`
import { parseArgs } from 'node:util';
import { Subject } from 'rxjs';

const dist = new URL('../dist/', import.meta.url);
const { loadModel } = await import(new URL('runtime/model/load_model.js', dist).href);
const { keywordSpotting } = await import(new URL('runtime/operators/keyword_spotting.js', dist).href);
const { readWavSamples, encodeS16le } = await import(new URL('runtime/audio/wav_samples.js', dist).href);
const { resampleBuffer } = await import(new URL('runtime/audio/resampler.js', dist).href);
const { parseServiceConfig } = await import(new URL('transports/service/config.js', dist).href);
const { DEMO_MODEL, DEMO_SAMPLE } = await import(new URL('transports/service/package_paths.js', dist).href);
await import(new URL('models/register.js', dist).href);

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: DEMO_MODEL },
    audio: { type: 'string', default: DEMO_SAMPLE },
    threshold: { type: 'string' },
    loops: { type: 'string', default: '2' },
    replays: { type: 'string', default: '4000,5000,6000,7000,8000' },
    step: { type: 'string', default: '1000' },
    offset: { type: 'string', default: '0' },
  },
});
const CHUNK_MS = 100;
const CHUNK_BYTES = 3200;
const DECISION_LAG_MS = 500; // transports/service/cluster_inputs.ts
const model = await loadModel(o.model, { backend: 'wasm' });
const decision = parseServiceConfig(o.threshold !== undefined ? { decision: { threshold: Number(o.threshold) } } : {}).decision;
const warmupMs = parseServiceConfig({}).audio.warmupMs ?? 1000;
const lagBound = DECISION_LAG_MS + 10 * (decision.peakFrames ?? model.decision?.peakFrames ?? 0);
const { samples, rate } = readWavSamples(o.audio);
const whole = encodeS16le(resampleBuffer(samples, rate, 16000));
// Rotated to start `--offset` ms in (as the cluster tests rotate the sample per device).
const cut = Math.round((Number(o.offset) / 1000) * 16000) * 2 % whole.length;
const once = new Uint8Array(whole.length);
once.set(whole.subarray(cut), 0);
once.set(whole.subarray(0, cut), whole.length - cut);
const loops = Number(o.loops);
const pcm = new Uint8Array(once.length * loops);
for (let i = 0; i < loops; i++) pcm.set(once, i * once.length);
const n = Math.floor(pcm.length / CHUNK_BYTES);
const format = { encoding: 's16le', rate: 16000, channels: 1 };
const chunk = (i) => ({ device: 'd', kind: 'chunk', data: pcm.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES), format, timestampMs: i * CHUNK_MS });

/** Events of a pipeline fed chunks `from`…n−1, each with the end of the audio processed when it came out. */
function run(from) {
  const input = new Subject();
  const out = [];
  let processedMs = 0;
  input.pipe(keywordSpotting(model, { decision, warmupMs })).subscribe((x) => {
    if (x.type === 'keyword') out.push({ key: `${x.event.label}@${x.event.start_ms}-${x.event.end_ms}`, end: x.event.end_ms, lag: processedMs - x.event.end_ms });
  });
  for (let i = from; i < n; i++) {
    processedMs = (i + 1) * CHUNK_MS;
    input.next(chunk(i));
  }
  processedMs = Infinity; // the stream's tail, decided when it ends
  input.complete();
  return out;
}

const full = run(0);
const lags = full.filter((e) => Number.isFinite(e.lag)).map((e) => e.lag).sort((a, b) => a - b);
console.log(`${o.model.split('/').at(-1)} on ${o.audio.split('/').at(-1)} ×${loops} (${(n * CHUNK_MS) / 1000} s), threshold ${decision.threshold ?? model.decision?.threshold}, warm-up ${warmupMs} ms: ${full.length} events`);
console.log(`decision lag (processed audio past the event's end when it came out): max ${lags.at(-1) ?? '-'} ms, p50 ${lags[Math.floor(lags.length / 2)] ?? '-'} ms; the worker assumes ≤ ${lagBound} ms${(lags.at(-1) ?? 0) > lagBound ? ' — EXCEEDED: events can be lost at a crash' : ''}`);
const replays = o.replays.split(',').map(Number);
for (const replay of replays) {
  let exact = 0;
  let points = 0;
  let missing = 0;
  let extra = 0;
  for (let crashMs = replay + 1000; crashMs <= n * CHUNK_MS - 2000; crashMs += Number(o.step)) {
    // The snapshot's resume point: `replay` before the last processed chunk's end; publish from `crashMs − lag`.
    const from = Math.max(0, (crashMs - replay) / CHUNK_MS);
    const decideFrom = crashMs - lagBound;
    const want = full.filter((e) => e.end >= decideFrom).map((e) => e.key);
    const got = run(from).filter((e) => e.end >= decideFrom).map((e) => e.key);
    points++;
    const w = new Set(want);
    const g = new Set(got);
    const miss = want.filter((k) => !g.has(k)).length;
    const more = got.filter((k) => !w.has(k)).length;
    missing += miss;
    extra += more;
    if (miss === 0 && more === 0) exact++;
    else if (process.env.VERBOSE) console.log(`  crash at ${crashMs} ms (resume ${crashMs - replay}): missed ${want.filter((k) => !g.has(k)).join(' ')}, extra ${got.filter((k) => !w.has(k)).join(' ')}`);
  }
  console.log(`audioReplayMs ${replay}: ${exact}/${points} restart points decide exactly the uninterrupted events after decide-from (${missing} missed, ${extra} extra in all)`);
}
