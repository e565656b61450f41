import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delay, map, Observable, of, scan, Subject, toArray, firstValueFrom, throwError, mergeMap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { boundedBuffer } from '../../runtime/operators/bounded_buffer.js';
import { perDevice } from '../../runtime/operators/per_device.js';
import { segmented } from '../../runtime/operators/segmented.js';
import { sequenceGuard, type StreamGap } from '../../runtime/operators/sequence_guard.js';
import { timeProcessing } from '../../runtime/operators/time_processing.js';
import type { AudioChunk } from '../../runtime/operators/types.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

interface Msg { device: string; v: number }
const m = (device: string, v: number): Msg => ({ device, v });

describe('perDevice', () => {
  it('keeps one state per device, ends a device after idleMs and starts it fresh later', () => {
    const idle: string[] = [];
    scheduler().run(({ hot, expectObservable }) => {
      const values = { a: m('x', 1), b: m('y', 1), c: m('x', 1), d: m('x', 1) };
      // x at 1 and 3, y at 2; idle after 5 frames: x ends at 8, y at 7; x comes back at 12 with a fresh count.
      const source = hot('-abc--------d-|', values);
      const out = source.pipe(
        perDevice((device, msgs) => msgs.pipe(scan((n, x) => n + x.v, 0), map((n) => `${device}${n}`)), {
          idleMs: 5,
          onIdle: (d) => idle.push(d),
        }),
      );
      expectObservable(out).toBe('-abc--------d-|', { a: 'x1', b: 'y1', c: 'x2', d: 'x1' });
    });
    // y idles out at 7, x at 8; x again when the source completes at 14.
    assert.deepEqual(idle, ['y', 'x', 'x']);
  });

  it('reports idle devices at the right virtual time', () => {
    const ts = scheduler();
    const seen: [string, number][] = [];
    ts.run(({ hot, flush }) => {
      const source = hot('-ab----', { a: m('x', 1), b: m('y', 1) });
      source.pipe(perDevice((_d, msgs) => msgs, { idleMs: 3, onIdle: (d) => seen.push([d, ts.now()]) })).subscribe();
      flush();
    });
    assert.deepEqual(seen, [['x', 4], ['y', 5]]);
  });

  it('with onError, an error stays inside its device: the device restarts fresh, others never notice', () => {
    const errors: string[] = [];
    scheduler().run(({ hot, expectObservable }) => {
      const values = { a: m('x', 1), b: m('y', 1), e: m('x', -1), c: m('x', 1), d: m('y', 1) };
      const source = hot('-abecd|', values);
      const out = source.pipe(
        perDevice(
          (device, msgs) =>
            msgs.pipe(
              mergeMap((x) => (x.v < 0 ? throwError(() => new Error('bad value')) : of(x))),
              scan((n, x) => n + x.v, 0),
              map((n) => `${device}${n}`),
            ),
          { idleMs: 100, onError: (d, e) => errors.push(`${d}:${(e as Error).message}`) },
        ),
      );
      // After the error on x, x's count restarts at 1; y continues to 2.
      expectObservable(out).toBe('-ab-cd|', { a: 'x1', b: 'y1', c: 'x1', d: 'y2' });
    });
    assert.deepEqual(errors, ['x:bad value']);
  });

  it('a pipeline that finishes asynchronously still delivers its last outputs after the device went idle', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const source = hot('-ab---------|', { a: m('x', 1), b: m('x', 1) });
      // x idles out at 4 (2 frames after b); its pipeline needs 3 more frames to finish.
      const out = source.pipe(perDevice((_d, msgs) => msgs.pipe(toArray(), delay(3), map((xs) => xs.length)), { idleMs: 2 }));
      expectObservable(out).toBe('-------c----|', { c: 2 });
    });
  });

  it('without onError, a device error errors the whole stream (plain RxJS semantics)', async () => {
    const out = of(m('x', 1), m('x', -1)).pipe(perDevice((_d, msgs) => msgs.pipe(map((x) => { if (x.v < 0) throw new Error('boom'); return x.v; })), { idleMs: 10 }));
    await assert.rejects(firstValueFrom(out.pipe(toArray())), /boom/);
  });

  it('unsubscribing tears down every device pipeline', () => {
    const src = new Subject<Msg>();
    let live = 0;
    const sub = src
      .pipe(perDevice((_d, msgs) => new Observable<number>((s) => { live++; const u = msgs.subscribe((x) => s.next(x.v)); return () => { live--; u.unsubscribe(); }; }), { idleMs: 1000 }))
      .subscribe();
    src.next(m('a', 1));
    src.next(m('b', 1));
    assert.equal(live, 2);
    sub.unsubscribe();
    assert.equal(live, 0);
  });
});

describe('boundedBuffer', () => {
  it('re-emits later, in order; drops the oldest when full and counts the drops', () => {
    const ts = scheduler();
    const drops: [string, number][] = [];
    ts.run(({ hot, expectObservable }) => {
      const out = hot('-(abcd)-e-|').pipe(boundedBuffer({ capacity: 2, scheduler: ts, onDrop: (v, n) => drops.push([v, n]) }));
      expectObservable(out).toBe('-(cd)---e-|');
    });
    assert.deepEqual(drops, [['a', 1], ['b', 2]]);
  });

  it('marks the first value after a drop with afterDrop', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const out = hot('-(abc)-d|').pipe(boundedBuffer({ capacity: 2, scheduler: ts, afterDrop: (v) => v.toUpperCase() }));
      expectObservable(out).toBe('-(Bc)--d|');
    });
  });

  it('delivers queued values before an error', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      expectObservable(hot('-(ab#)').pipe(boundedBuffer({ capacity: 4, scheduler: ts }))).toBe('-(ab#)');
    });
  });

  it('without a scheduler it drains on setImmediate, after pending I/O', async () => {
    const src = new Subject<number>();
    const got: number[] = [];
    const sub = src.pipe(boundedBuffer({ capacity: 3 })).subscribe((v) => got.push(v));
    for (let i = 0; i < 10; i++) src.next(i);
    assert.deepEqual(got, []); // nothing synchronously
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, [7, 8, 9]);
    sub.unsubscribe();
  });

  it('state is per subscription and freed on unsubscribe (no emission after)', async () => {
    const src = new Subject<number>();
    const a: number[] = [];
    const b: number[] = [];
    const op = boundedBuffer<number>({ capacity: 2 });
    const sa = src.pipe(op).subscribe((v) => a.push(v));
    const sb = src.pipe(op).subscribe((v) => b.push(v));
    src.next(1);
    sb.unsubscribe();
    src.next(2);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(a, [1, 2]);
    assert.deepEqual(b, []);
    sa.unsubscribe();
  });

  it('refuses a capacity that is not a positive integer', () => {
    assert.throws(() => boundedBuffer({ capacity: 0 }), /positive integer/);
  });
});

const fmt = { encoding: 's16le' as const, rate: 16000, channels: 1 };
const chunk = (over: Partial<AudioChunk>): AudioChunk => ({ device: 'd', kind: 'chunk', data: new Uint8Array(640), format: fmt, ...over });

describe('sequenceGuard', () => {
  it('marks seq gaps and timestamp jumps, derives stream time when the sender gives none', async () => {
    const gaps: StreamGap[] = [];
    const input = [
      chunk({ seq: 1, timestampMs: 0 }),
      chunk({ seq: 2, timestampMs: 20 }),
      chunk({ seq: 4, timestampMs: 60 }), // seq gap
      chunk({ seq: 5, timestampMs: 500 }), // timestamp jump
      chunk({ seq: 6, timestampMs: 520 }),
      chunk({ kind: 'start', seq: 100, timestampMs: 0, data: new Uint8Array(0) }), // new stream: no gap
      chunk({ seq: 101, timestampMs: 0 }),
    ];
    const out = await firstValueFrom(of(...input).pipe(sequenceGuard({ onGap: (g) => gaps.push(g) }), toArray()));
    assert.deepEqual(out.map((c) => c.gap === true), [false, false, true, true, false, false, false]);
    assert.deepEqual(gaps.map((g) => [g.reason, g.expected, g.got]), [['seq', 3, 4], ['timestamp', 80, 500]]);
    const derived = await firstValueFrom(of(chunk({}), chunk({}), chunk({ data: new Uint8Array(320) }), chunk({})).pipe(sequenceGuard(), toArray()));
    assert.deepEqual(derived.map((c) => c.timestampMs), [0, 20, 40, 50]);
  });

  it('keeps its state per subscription', async () => {
    const guarded = of(chunk({ seq: 7 }), chunk({ seq: 8 })).pipe(sequenceGuard());
    const first = await firstValueFrom(guarded.pipe(toArray()));
    const second = await firstValueFrom(guarded.pipe(toArray()));
    assert.deepEqual(first.map((c) => c.gap), second.map((c) => c.gap));
    assert.deepEqual(second.map((c) => c.gap), [false, false]);
  });
});

describe('segmented', () => {
  it('runs a fresh pipeline per segment; the segment ends before a start and after an end marker', async () => {
    const values = ['a', 'b', 'S', 'c', 'E', 'd'];
    const out = await firstValueFrom(
      of(...values).pipe(
        segmented({ startsSegment: (v) => v === 'S', endsSegment: (v) => v === 'E' }, (seg, first) => seg.pipe(toArray(), map((xs) => `${first}:${xs.join('')}`))),
        toArray(),
      ),
    );
    assert.deepEqual(out, ['a:ab', 'S:ScE', 'd:d']);
  });
});

describe('timeProcessing', () => {
  it('reports how long the synchronous downstream took per value', () => {
    const times: number[] = [];
    of(1, 2).pipe(timeProcessing((_v, ms) => times.push(ms))).subscribe(() => {
      const until = performance.now() + 5;
      while (performance.now() < until) { /* work */ }
    });
    assert.equal(times.length, 2);
    assert.ok(times.every((t) => t >= 4.5), `times ${times}`);
  });
});
