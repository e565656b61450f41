// edgestream microphone page: getUserMedia (no echo cancellation, noise suppression or gain
// control: the model was trained on raw audio), one non-trickle offer POSTed to ./offer with the
// bearer token, then live scores and detections from the service on the "events" data channel.
// Plain browser JavaScript, no build step. Open it as <base>/#token=…&device=…(&connect=1).

const $ = (id) => document.getElementById(id);
const form = $('connect-form');
const deviceInput = $('device');
const tokenInput = $('token');
const connectButton = $('connect');
const disconnectButton = $('disconnect');
const statusLine = $('status');
const levelMeter = $('level');
const scoresList = $('scores');
const detectionsList = $('detections');
const noDetections = $('no-detections');
const modelLabel = $('model');

const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const ICE_GATHERING_TIMEOUT_MS = 3000;
const MAX_DETECTIONS_SHOWN = 50;

/** @type {{pc: RTCPeerConnection, channel: RTCDataChannel, stream: MediaStream, audio: AudioContext | null} | null} */
let session = null;

function setState(state, text) {
  document.body.dataset.state = state;
  statusLine.textContent = text;
}

// Settings: the URL fragment (never sent to the server) wins, then what this tab used last.
const params = new URLSearchParams(location.hash.slice(1));
deviceInput.value = params.get('device') ?? sessionStorage.getItem('edgestream.device') ?? `browser-${Math.random().toString(36).slice(2, 8)}`;
tokenInput.value = params.get('token') ?? sessionStorage.getItem('edgestream.token') ?? '';
if (params.has('token')) history.replaceState(null, '', location.pathname + location.search); // keep the token out of the address bar

if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
  setState('error', 'This browser only lends its microphone to secure pages: open this page over https:// or on http://localhost (see the docs/webrtc.md, "WebRTC").');
  connectButton.disabled = true;
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void connect();
});
disconnectButton.addEventListener('click', () => disconnect('Disconnected.'));
window.addEventListener('pagehide', () => disconnect('Disconnected.'));

async function connect() {
  const device = deviceInput.value.trim();
  const token = tokenInput.value;
  if (!DEVICE_ID.test(device)) return setState('error', 'The device id may only hold letters, digits, _ and - (1–64 characters).');
  if (!token) return setState('error', 'Enter the token the service was configured with.');
  sessionStorage.setItem('edgestream.device', device);
  sessionStorage.setItem('edgestream.token', token);
  connectButton.disabled = true;
  setState('connecting', 'Asking for the microphone…');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
      video: false,
    });
  } catch (err) {
    connectButton.disabled = false;
    return setState('error', `No microphone: ${err.message || err.name}.`);
  }
  const pc = new RTCPeerConnection({ iceServers: [] });
  const channel = pc.createDataChannel('events');
  session = { pc, channel, stream, audio: null };
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  channel.onmessage = (e) => onMessage(e.data);
  channel.onclose = () => disconnect('The service closed the connection.');
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected') {
      setState('connected', `Streaming as “${device}”.`);
      disconnectButton.disabled = false;
    } else if (pc.connectionState === 'failed') {
      disconnect('The connection failed (is the service reachable from this browser?).', 'error');
    }
  };
  try {
    setState('connecting', 'Connecting…');
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    const res = await fetch('offer', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp, device }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(res.status === 401 ? 'the token was not accepted' : body.error || `HTTP ${res.status}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: body.sdp });
    startLevelMeter(stream);
  } catch (err) {
    disconnect(`Could not connect: ${err.message}.`, 'error');
  }
}

function disconnect(text, state = 'idle') {
  const s = session;
  if (!s) return;
  session = null;
  s.channel.onclose = null;
  s.pc.onconnectionstatechange = null;
  s.channel.close();
  s.pc.close();
  for (const t of s.stream.getTracks()) t.stop();
  void s.audio?.close();
  levelMeter.value = 0;
  connectButton.disabled = false;
  disconnectButton.disabled = true;
  setState(state, text);
}

function iceGatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, ICE_GATHERING_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function onMessage(data) {
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return;
  }
  if (m.type === 'hello') {
    modelLabel.textContent = m.model ? `(${m.model})` : '';
    const keywords = (m.labels ?? []).filter((l) => typeof l === 'string' && !l.startsWith('_'));
    if (keywords.length > 0) noDetections.textContent = `None yet. Say one of: ${keywords.join(', ')}.`;
  } else if (m.type === 'scores') {
    renderScores(m.top ?? []);
  } else if (m.type === 'keyword' && m.event) {
    addDetection(m.event);
  }
}

function renderScores(top) {
  scoresList.replaceChildren(
    ...top.map(({ label, score }) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = label;
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.round(Math.max(0, Math.min(1, score)) * 100)}%`;
      bar.append(fill);
      const value = document.createElement('span');
      value.textContent = score.toFixed(2);
      li.append(name, bar, value);
      return li;
    }),
  );
}

function addDetection(event) {
  noDetections.hidden = true;
  const li = document.createElement('li');
  li.dataset.label = event.label;
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = event.label;
  const when = new Date(event.ts ?? Date.now()).toLocaleTimeString();
  li.append(label, ` ${Number(event.score).toFixed(2)} · ${when} · ${(event.start_ms / 1000).toFixed(2)}–${(event.end_ms / 1000).toFixed(2)} s`);
  detectionsList.prepend(li);
  while (detectionsList.children.length > MAX_DETECTIONS_SHOWN) detectionsList.lastElementChild.remove();
}

/** RMS of the microphone signal, for the input level meter (silent when the browser blocks audio). */
function startLevelMeter(stream) {
  if (!session || typeof AudioContext === 'undefined') return;
  const audio = new AudioContext();
  session.audio = audio;
  const analyser = audio.createAnalyser();
  analyser.fftSize = 1024;
  audio.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const tick = () => {
    if (!session || session.audio !== audio) return;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    levelMeter.value = Math.min(1, Math.sqrt(sum / buf.length) * 4);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

if (params.get('connect') === '1' && !connectButton.disabled) void connect();
