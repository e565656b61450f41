import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finalize, firstValueFrom, from, lastValueFrom, Subject, takeUntil, tap, toArray } from 'rxjs';
import { isEdgestreamError } from '../../runtime/errors.js';
import { AudioSourceWriter } from '../../transports/webrtc/audio_source_writer.js';
import { fromAudioSink, type SinkAudio } from '../../transports/webrtc/audio_sink_source.js';
import { resampleSinkAudio, type ResampledAudio } from '../../transports/webrtc/resample_sink_audio.js';
import { TenMsChunker } from '../../transports/webrtc/ten_ms_chunker.js';
import { loadWrtcModule } from '../../transports/webrtc/wrtc.js';
import { spyingWrtc, wrtcOrSkip } from '../helpers/wrtc.js';

// Tier 1 of the WebRTC tests (spec §7.5): RTCAudioSource → createTrack() → RTCAudioSink in one
// process, no network: the 10 ms re-chunker, the sink's event shape, per-event resampling with a
// rate change, and teardown through RxJS finalization.

const { wrtc, skip } = wrtcOrSkip();
const until = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sine(rate: number, hz: number, seconds: number, amplitude = 0.5, phaseSamples = 0): Float32Array {
  const n = Math.round(rate * seconds);
  return Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * (i + phaseSamples)) / rate));
}

function concat(parts: ResampledAudio[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.samples.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p.samples, o);
    o += p.samples.length;
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Deterministic chunk sizes between 1 and `max`. */
function* chunkSizes(seed: number, max: number): Generator<number> {
  let s = seed;
  for (;;) {
    s = (s * 1103515245 + 12345) >>> 0;
    yield 1 + (s % max);
  }
}

describe('RTCAudioSource only takes 10 ms, the re-chunker makes any chunking fit', { skip }, () => {
  it('RTCAudioSource.onData refuses anything but exactly 10 ms with "Expected a .byteLength of N, not M"', () => {
    const source = new wrtc!.nonstandard.RTCAudioSource();
    const track = source.createTrack();
    try {
      assert.throws(() => source.onData({ samples: new Int16Array(100), sampleRate: 16000 }), { name: 'TypeError', message: 'Expected a .byteLength of 320, not 200' });
      assert.throws(() => source.onData({ samples: new Int16Array(320), sampleRate: 16000 }), { message: 'Expected a .byteLength of 320, not 640' });
      assert.throws(() => source.onData({ samples: new Int16Array(481), sampleRate: 48000 }), { message: 'Expected a .byteLength of 960, not 962' });
      source.onData({ samples: new Int16Array(160), sampleRate: 16000 }); // exactly 10 ms: accepted
    } finally {
      track.stop();
    }
  });

  it('cuts any chunking into exact 10 ms frames, sample for sample, that RTCAudioSource accepts', () => {
    const source = new wrtc!.nonstandard.RTCAudioSource();
    const track = source.createTrack();
    try {
      const rate = 48000;
      const input = Int16Array.from({ length: rate + 123 }, (_, i) => ((i * 7919) % 65536) - 32768);
      const chunker = new TenMsChunker(rate);
      const frames: Int16Array[] = [];
      const emit = (f: Int16Array): void => {
        assert.equal(f.length, 480);
        source.onData({ samples: f, sampleRate: rate }); // throws on a wrong size
        frames.push(f.slice());
      };
      const sizes = chunkSizes(7, 1500);
      for (let i = 0; i < input.length; ) {
        const n = Math.min(sizes.next().value, input.length - i);
        chunker.push(input.subarray(i, i + n), emit);
        i += n;
      }
      assert.equal(chunker.pending, 123);
      chunker.flush(emit);
      assert.equal(frames.length, 101);
      const joined = new Int16Array(frames.length * 480);
      frames.forEach((f, k) => joined.set(f, k * 480));
      assert.deepEqual(joined.subarray(0, input.length), input);
      assert.ok(joined.subarray(input.length).every((v) => v === 0), 'the last frame is padded with silence');
    } finally {
      track.stop();
    }
  });

  it('converts float samples to 16-bit with clipping', () => {
    const chunker = new TenMsChunker(8000);
    const frames: Int16Array[] = [];
    const input = new Float32Array(80);
    input.set([1.5, -1.5, 0.5, -0.5, 1, -1, 0]);
    chunker.push(input, (f) => frames.push(f.slice()));
    assert.deepEqual(Array.from(frames[0]!.subarray(0, 7)), [32767, -32768, 16384, -16383, 32767, -32767, 0]);
  });

  it('refuses rates without a whole number of samples per 10 ms; the writer resamples them to 48 kHz', () => {
    assert.throws(() => new TenMsChunker(22050), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT') && /22050 Hz is not a multiple of 100/.test(e.message));
    assert.throws(() => new TenMsChunker(0), (e: unknown) => isEdgestreamError(e, 'E_AUDIO_FORMAT'));
    const writer = new AudioSourceWriter(wrtc!, 22050);
    try {
      assert.equal(writer.sourceRate, 48000);
      writer.write(sine(22050, 440, 0.1)); // 2205 samples → 4800 at 48 kHz: 9 full frames so far (look-ahead pending)
      writer.flush();
      assert.equal(writer.frames, 10);
    } finally {
      writer.stop();
    }
  });
});

describe('RTCAudioSource → track → RTCAudioSink → 16 kHz samples', { skip }, () => {
  it('delivers typed 10 ms events and the same tone at 16 kHz', async () => {
    const writer = new AudioSourceWriter(wrtc!, 48000);
    const stop = new Subject<void>();
    const events: SinkAudio[] = [];
    const outputP = lastValueFrom(
      fromAudioSink(wrtc!, writer.track).pipe(
        takeUntil(stop),
        tap((e) => events.push({ ...e, samples: e.samples.slice() })),
        resampleSinkAudio(16000),
        toArray(),
      ),
    );
    try {
      const tone = sine(48000, 1000, 1);
      const sizes = chunkSizes(3, 2000);
      for (let i = 0; i < tone.length; ) {
        const n = Math.min(sizes.next().value, tone.length - i);
        writer.write(tone.subarray(i, i + n));
        i += n;
      }
      for (let t = 0; t < 100 && events.length < 100; t++) await until(20);
      stop.next();
      const output = await outputP;
      assert.equal(events.length, 100, 'one sink event per 10 ms frame');
      for (const e of events) {
        assert.ok(e.samples instanceof Int16Array);
        assert.equal(e.sampleRate, 48000);
        assert.equal(e.channelCount, 1);
        assert.equal(e.numberOfFrames, 480);
        assert.equal(e.samples.length, 480);
        assert.equal(typeof e.receivedAt, 'number');
      }
      assert.ok(output.every((o) => o.rate === 16000));
      const got = concat(output);
      assert.equal(got.length, 16000, 'ceil(48000 / 3) samples after the flush');
      const want = sine(16000, 1000, 1);
      // Away from the abrupt start and end the filter reproduces the tone (16-bit quantisation ~3e-5).
      assert.ok(maxAbsDiff(got, want, 200, 15800) < 2e-4, `max error ${maxAbsDiff(got, want, 200, 15800)}`);
    } finally {
      writer.stop();
    }
  });

  it('stops the sink on unsubscribe (RxJS finalization): no event afterwards', async () => {
    const spy = spyingWrtc(wrtc!);
    const writer = new AudioSourceWriter(wrtc!, 16000);
    let finalized = false;
    let received = 0;
    const sub = fromAudioSink(spy.wrtc, writer.track)
      .pipe(finalize(() => (finalized = true)))
      .subscribe(() => received++);
    try {
      writer.write(new Float32Array(1600));
      for (let t = 0; t < 50 && received < 10; t++) await until(20);
      assert.equal(received, 10);
      assert.equal(spy.sinks.length, 1);
      assert.equal(spy.sinks[0]!.stopped, false);
      sub.unsubscribe();
      assert.equal(finalized, true);
      assert.equal(spy.sinks[0]!.stopped, true);
      writer.write(new Float32Array(1600));
      await until(100);
      assert.equal(received, 10, 'a stopped sink delivers nothing');
    } finally {
      sub.unsubscribe();
      writer.stop();
    }
  });
});

describe('per-event resampling', () => {
  it('a rate change mid-stream (16 kHz events, then 48 kHz) gives one continuous 16 kHz signal', async () => {
    // What a remote Opus track does: the first 1–3 events at 16 kHz, then 48 kHz.
    const hz = 440;
    const events: SinkAudio[] = [];
    let t16 = 0; // position in 16 kHz samples
    for (let k = 0; k < 3; k++, t16 += 160) events.push(sinkEvent(16000, sine(16000, hz, 0.01, 0.5, t16)));
    for (let k = 0; k < 97; k++, t16 += 160) events.push(sinkEvent(48000, sine(48000, hz, 0.01, 0.5, t16 * 3)));
    const out = await lastValueFrom(from(events).pipe(resampleSinkAudio(16000), toArray()));
    assert.ok(out.every((o) => o.rate === 16000));
    const got = concat(out);
    assert.equal(got.length, 16000, 'no sample lost or doubled at the switch');
    const want = sine(16000, hz, 1);
    assert.ok(maxAbsDiff(got, want, 0, 480) < 1e-4, 'the 16 kHz events pass through');
    // The 48 kHz resampler starts without history at the switch: a short transient, then the tone.
    assert.ok(maxAbsDiff(got, want, 480 + 400, 15800) < 2e-4, `max error ${maxAbsDiff(got, want, 880, 15800)}`);
  });

  it('uses the first channel of interleaved stereo events', async () => {
    const left = Int16Array.from({ length: 480 }, (_, i) => i * 10);
    const stereo = new Int16Array(960);
    for (let i = 0; i < 480; i++) {
      stereo[2 * i] = left[i]!;
      stereo[2 * i + 1] = -12345;
    }
    const out = await firstValueFrom(from([{ samples: stereo, sampleRate: 16000, channelCount: 2, numberOfFrames: 480, receivedAt: 0 }]).pipe(resampleSinkAudio(16000)));
    assert.deepEqual(Array.from(out.samples), Array.from(left, (v) => v / 32768));
  });

  it('errors the stream (E_TRANSPORT_INPUT) on an event with an impossible shape', async () => {
    const bad: SinkAudio = { samples: new Int16Array(10), sampleRate: 48000, channelCount: 1, numberOfFrames: 480, receivedAt: 0 };
    await assert.rejects(lastValueFrom(from([bad]).pipe(resampleSinkAudio(16000))), (e: unknown) => isEdgestreamError(e, 'E_TRANSPORT_INPUT'));
    const badRate: SinkAudio = { samples: new Int16Array(10), sampleRate: 0, channelCount: 1, numberOfFrames: 10, receivedAt: 0 };
    await assert.rejects(lastValueFrom(from([badRate]).pipe(resampleSinkAudio(16000))), (e: unknown) => isEdgestreamError(e, 'E_TRANSPORT_INPUT'));
  });
});

function sinkEvent(rate: number, samples: Float32Array): SinkAudio {
  return { samples: Int16Array.from(samples, (v) => Math.round(v * 32767)), sampleRate: rate, channelCount: 1, numberOfFrames: samples.length, receivedAt: Date.now() };
}

describe('loading @roamhq/wrtc', () => {
  it('a missing package is E_BACKEND naming the package, glibc >= 2.34 and the real error', () => {
    assert.throws(
      () => loadWrtcModule('@roamhq/wrtc-not-installed'),
      (e: unknown) =>
        isEdgestreamError(e, 'E_BACKEND') &&
        e.message.includes('@roamhq/wrtc') &&
        e.message.includes('glibc >= 2.34') &&
        e.message.includes('Raspberry Pi OS Bookworm 64-bit') &&
        e.message.includes("Cannot find module '@roamhq/wrtc-not-installed'"),
    );
  });
});
