// WebRTC ingress cost: CPU time of the receiving process per browser stream (SRTP + Opus decode in
// libwebrtc, RTCAudioSink events, 48 → 16 kHz resampling, chunk hand-off), with N Node peers in a
// child process streaming 16 kHz audio in real time over loopback. The keyword model's own cost
// is not included (see the front-end and engine benchmarks). A benchmark, not a test.
// Run: node --import tsx test/bench/webrtc_bench.ts [--streams 1,4,8] [--seconds 20] [--passband 0.9] [--json]
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createWebRtcIngress } from '../../transports/webrtc/ingress.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const STREAMS = arg('streams', '1,4,8').split(',').map(Number);
const SECONDS = Number(arg('seconds', '20'));
const PASSBAND = process.argv.includes('--passband') ? Number(arg('passband', '0.95')) : undefined;
const TOKEN = 'bench-token-0123456789';

interface Result {
  streams: number;
  seconds: number;
  cpuMsPerStreamSecond: number;
  cpuPercentOfOneCore: number;
  chunksPerStreamSecond: number;
  gapP99Ms: number;
}

const results: Result[] = [];
for (const n of STREAMS) {
  const arrivals = new Map<string, number[]>();
  const ingress = createWebRtcIngress({
    token: TOKEN,
    maxPeers: Math.max(16, n),
    ...(PASSBAND !== undefined && { resampler: { passband: PASSBAND } }),
    onAudio: (c) => {
      if (c.kind !== 'chunk') return;
      let a = arrivals.get(c.device);
      if (!a) arrivals.set(c.device, (a = []));
      a.push(performance.now());
    },
  });
  const server = createServer((req, res) => void (ingress.handle(req, res) || res.writeHead(404).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webrtc/offer`;
  const child = fork(fileURLToPath(new URL('./webrtc_bench_clients.ts', import.meta.url)), [url, TOKEN, String(n), String(SECONDS + 4)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  // Measure a steady window: skip the first 2 s (connections, rate switch), stop before the end.
  await new Promise((r) => setTimeout(r, 2000));
  const counts0 = new Map([...arrivals].map(([d, a]) => [d, a.length]));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const gaps: number[] = [];
  let chunks = 0;
  for (const [d, a] of arrivals) {
    const from = counts0.get(d) ?? 0;
    chunks += a.length - from;
    for (let i = from + 1; i < a.length; i++) gaps.push(a[i]! - a[i - 1]!);
  }
  gaps.sort((x, y) => x - y);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  results.push({
    streams: n,
    seconds: Math.round(wall * 10) / 10,
    cpuMsPerStreamSecond: Math.round((cpuMs / (n * wall)) * 10) / 10,
    cpuPercentOfOneCore: Math.round((cpuMs / (wall * 1000)) * 1000) / 10,
    chunksPerStreamSecond: Math.round((chunks / (n * wall)) * 10) / 10,
    gapP99Ms: Math.round((gaps[Math.floor(gaps.length * 0.99)] ?? NaN) * 10) / 10,
  });
  await new Promise((r) => child.once('exit', r));
  await ingress.close();
  server.closeAllConnections();
  server.close();
}
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ bench: 'webrtc-ingress', results })}\n`);
else for (const r of results) process.stdout.write(`${r.streams} stream(s): ${r.cpuMsPerStreamSecond} ms CPU per stream-second (${r.cpuPercentOfOneCore} % of one core), ${r.chunksPerStreamSecond} chunks/s per stream, p99 gap ${r.gapP99Ms} ms\n`);
