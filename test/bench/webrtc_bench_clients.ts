// Child of webrtc_bench.ts: N WebRTC clients streaming a speech-like 16 kHz signal in real time.
import { WebRtcClient } from '../../transports/webrtc/webrtc_client.js';

const [url, token, n, seconds] = process.argv.slice(2) as [string, string, string, string];
const rate = 16000;
const samples = Float32Array.from({ length: rate * Number(seconds) }, (_, i) => 0.2 * Math.sin(i * 0.07) * (0.5 + 0.5 * Math.sin(i / 4000)) + 0.02 * Math.sin(i * 1.3));
const clients = await Promise.all(Array.from({ length: Number(n) }, (_, k) => WebRtcClient.connect({ url, token, device: `bench${k}`, sampleRate: rate })));
await Promise.all(clients.map((c) => c.play(samples)));
for (const c of clients) c.close();
