// Front-end throughput: CPU time per second of audio for the full path (resample + fbank +
// normalise), pushing 20 ms chunks as a live source would. Measured as process CPU time (less
// disturbed than wall time on a shared machine), best of 3. A benchmark, not a test.
// Run: node --import tsx test/bench/frontend_bench.ts [--json]
import { createAudioFrontend } from '../../runtime/audio/audio_frontend.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';

const SECONDS = 20;
const results: { inputRate: number; msPerAudioSecond: number; realTimeFactor: number }[] = [];
for (const rate of [16000, 22050, 44100, 48000]) {
  const x = Float32Array.from({ length: rate * SECONDS }, (_, i) => 0.3 * Math.sin(i * 0.05) + 0.01 * Math.sin(i * 1.7));
  const chunk = Math.round(rate / 50);
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const fe = createAudioFrontend(LMUFORMER_FRONTEND, { inputRate: rate });
    const t0 = process.cpuUsage();
    for (let i = 0; i < x.length; i += chunk) fe.process(x.subarray(i, i + chunk), () => {});
    fe.flush();
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  results.push({ inputRate: rate, msPerAudioSecond: best / SECONDS, realTimeFactor: (SECONDS * 1000) / best });
}
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ bench: 'frontend', results })}\n`);
else for (const r of results) process.stdout.write(`${r.inputRate} Hz in: ${r.msPerAudioSecond.toFixed(1)} ms CPU per second of audio (${r.realTimeFactor.toFixed(0)}× real time)\n`);
