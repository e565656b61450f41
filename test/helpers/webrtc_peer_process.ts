// A WebRTC peer in its own process (for faults: SIGKILL it and the service sees ICE go
// `disconnected`, as when a browser's machine vanishes). Usage: webrtc_peer_process.ts <offerUrl> <token> <device>.
// Prints "connected" once the service answered, then streams quiet noise in real time until killed.
import { WebRtcClient } from '../../transports/webrtc/webrtc_client.js';

const [url, token, device] = process.argv.slice(2) as [string, string, string];
const client = await WebRtcClient.connect({ url, token, device, sampleRate: 16000 });
process.stdout.write('connected\n');
const noise = Float32Array.from({ length: 16000 * 60 }, () => (Math.random() - 0.5) * 0.01);
for (;;) await client.play(noise);
