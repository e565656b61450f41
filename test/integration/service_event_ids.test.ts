import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Subject } from 'rxjs';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { sleep, until } from '../helpers/mqtt_log.js';

// Issue 13 row 11: event ids used to be `<device>-<start_ms>`, and stream time restarts at 0, so
// two runs (or two workers) gave different detections the same id and consumers that drop
// duplicates by id lost real events. Ids are now `<device>-<origin>-<offset>`.

const AUDIO = s16le(testSignal(16000, 2.4, 7));
const CHUNK = 640;
const FORMAT = { encoding: 's16le' as const, rate: 16000, channels: 1 };

function chunks(device: string, receivedAt: (i: number) => number, timestampMs?: (i: number) => number): AudioChunk[] {
  const out: AudioChunk[] = [];
  for (let o = 0, i = 0; o < AUDIO.length; o += CHUNK, i++) {
    out.push({ device, kind: 'chunk', data: AUDIO.subarray(o, o + CHUNK), format: FORMAT, receivedAt: receivedAt(i), ...(timestampMs && { timestampMs: timestampMs(i) }) });
  }
  return out;
}

describe('keyword event ids: unique across restarts and workers, stable on replay', () => {
  let broker: EmbeddedBroker;
  let model: Model;
  before(async () => {
    broker = await startEmbeddedBroker();
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 }).bytes, { backend: 'js' });
  });
  after(async () => broker.close());

  /** One service run ("a worker"): the chunks through attachAudioSource, the events it emitted. */
  async function run(input: AudioChunk[]): Promise<DeviceKeywordEvent[]> {
    const service: EdgestreamService = createService({ mqtt: { url: broker.url }, http: { enabled: false }, homeassistant: { enabled: false }, decision: { threshold: 0, refractoryMs: 400 }, audio: { bufferChunks: 10_000 } }, { model });
    const events: DeviceKeywordEvent[] = [];
    service.on('keyword', (e) => events.push(e));
    await service.start();
    const source = new Subject<AudioChunk>();
    service.attachAudioSource(source, 'test');
    for (const c of input) source.next(c);
    await until(() => service.health().devices[input[0]!.device]?.chunks === input.length, 'all chunks taken');
    await service.stop(); // ending the input flushes the last decisions
    assert.ok(events.length >= 3, `a few events to compare (got ${events.length})`);
    return events;
  }

  it('the same device streamed twice, across a restart (stream time restarts at 0): no id repeats', async () => {
    const t0 = Date.now();
    const first = await run(chunks('kitchen', (i) => t0 + i * 20));
    await sleep(5);
    const second = await run(chunks('kitchen', (i) => Date.now() + i * 20));
    assert.deepEqual(first.map((e) => e.start_ms), second.map((e) => e.start_ms), 'the same audio gives the same stream times');
    const ids = [...first, ...second].map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `ids repeat: ${ids.join(' ')}`);
    for (const e of first) assert.equal(e.id, `kitchen-${t0}-${e.start_ms}`, 'origin = arrival of the first chunk; offset = start_ms');
  });

  it('the same input replayed (same arrival times carried, as a cluster replays after a snapshot) gives the same ids', async () => {
    const t0 = Date.now() - 60_000;
    const input = chunks('porch', (i) => t0 + i * 20);
    const a = await run(input);
    const b = await run(input);
    assert.deepEqual(b.map((e) => e.id), a.map((e) => e.id));
  });

  it('a sender whose timestamps are wall-clock times: the origin is its first timestamp, not the arrival time', async () => {
    const wall = 1_796_000_000_000;
    const events = await run(chunks('hall', (i) => Date.now() + i * 20, (i) => wall + i * 20));
    for (const e of events) assert.equal(e.id, `hall-${wall}-${e.start_ms - wall}`);
  });
});
