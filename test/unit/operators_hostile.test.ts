import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { config, defer, firstValueFrom, from, Subject, throwError, toArray } from 'rxjs';
import { EdgestreamError, isEdgestreamError } from '../../runtime/errors.js';
import { decodePcm } from '../../runtime/operators/decode_pcm.js';
import { segmented } from '../../runtime/operators/segmented.js';
import type { AudioChunk, SampleChunk } from '../../runtime/operators/types.js';

// Regression tests for issue 13 rows 1–3 at the operator level: a segment pipeline that fails as
// it starts, and NaN/Inf audio refused where PCM is decoded (before any session sees it).

const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const chunk = (data: Uint8Array | Float32Array, encoding: 's16le' | 'f32le' = 'f32le', channels = 1): AudioChunk => ({ device: 'd', kind: 'chunk', data, format: { encoding, rate: 16000, channels } });

/** Errors RxJS could not deliver (it would rethrow them asynchronously: an uncaught exception). */
async function unhandledDuring(run: () => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const before = config.onUnhandledError;
  config.onUnhandledError = (e) => seen.push(e);
  try {
    run();
    await new Promise((r) => setTimeout(r, 10));
  } finally {
    config.onUnhandledError = before;
  }
  return seen;
}

describe('segmented: a segment pipeline that fails as it starts (issue 13 row 3)', () => {
  it('delivers the pipeline error once and never feeds a cleared input (asynchronous source)', async () => {
    const src = new Subject<number>();
    const errors: unknown[] = [];
    src.pipe(segmented({}, () => throwError(() => new EdgestreamError('E_BACKEND', 'the segment could not start')))).subscribe({ error: (e: unknown) => errors.push(e) });
    const unhandled = await unhandledDuring(() => {
      src.next(1);
      src.next(2);
    });
    assert.deepEqual(unhandled, []);
    assert.equal(errors.length, 1);
    assert.ok(isEdgestreamError(errors[0], 'E_BACKEND'));
  });

  it('a pipeline factory that throws is an error of the output, not an exception in the source', async () => {
    const src = new Subject<number>();
    const errors: unknown[] = [];
    src.pipe(segmented({}, () => { throw new EdgestreamError('E_BACKEND', 'no pipeline'); })).subscribe({ error: (e: unknown) => errors.push(e) });
    assert.deepEqual(await unhandledDuring(() => src.next(1)), []);
    assert.equal(errors.length, 1);
  });

  it('a pipeline failing on its first value (defer) behaves the same', async () => {
    const src = new Subject<number>();
    const errors: unknown[] = [];
    src.pipe(segmented({}, () => defer(() => { throw new EdgestreamError('E_BACKEND', 'clipFrames too large'); }))).subscribe({ error: (e: unknown) => errors.push(e) });
    assert.deepEqual(await unhandledDuring(() => src.next(1)), []);
    assert.equal(errors.length, 1);
  });
});

describe('decodePcm refuses non-finite samples (issue 13 rows 1 and 2)', () => {
  for (const [name, bad] of [['NaN', Number.NaN], ['+Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
    it(`f32le bytes holding ${name}: E_NONFINITE_INPUT naming the device and sample; nothing is emitted`, async () => {
      const out: SampleChunk[] = [];
      const err = await new Promise<unknown>((resolve) => from([chunk(f32([0.1, 0.2])), chunk(f32([0.3, bad, 0.5]))]).pipe(decodePcm()).subscribe({ next: (s) => out.push(s), error: resolve, complete: () => resolve(null) }));
      assert.ok(isEdgestreamError(err, 'E_NONFINITE_INPUT'), String(err));
      assert.match((err as Error).message, /device d.*sample 1/);
      assert.equal(out.length, 1, 'the good chunk before it went through');
    });
  }

  it('already-decoded Float32Array chunks (listen, WebRTC) are checked too, every channel', async () => {
    await assert.rejects(firstValueFrom(from([chunk(new Float32Array([0, 0, 0, Number.NaN]), 'f32le', 2)]).pipe(decodePcm())), (e: unknown) => isEdgestreamError(e, 'E_NONFINITE_INPUT'));
  });

  it('with onInvalid the chunk is skipped and reported; the stream goes on with the next chunk', async () => {
    const skipped: string[] = [];
    const out = await firstValueFrom(
      from([chunk(f32([0.1])), chunk(f32([Number.NaN, 0.2])), chunk(f32([0.3]))]).pipe(
        decodePcm({ onInvalid: (e) => skipped.push(e.code) }),
        toArray(),
      ),
    );
    assert.deepEqual(skipped, ['E_NONFINITE_INPUT']);
    assert.deepEqual(out.map((s) => Array.from(s.samples).map((x) => Math.round(x * 10) / 10)), [[0.1], [0.3]]);
  });

  it('a NaN split across two chunks (carried bytes) is found too', async () => {
    const bytes = f32([0.25, Number.NaN]);
    await assert.rejects(firstValueFrom(from([chunk(bytes.subarray(0, 6)), chunk(bytes.subarray(6))]).pipe(decodePcm(), toArray())), (e: unknown) => isEdgestreamError(e, 'E_NONFINITE_INPUT'));
  });

  it('s16le audio can hold no NaN: decoded unchanged', async () => {
    const out = await firstValueFrom(from([chunk(new Uint8Array([0, 0x40, 0, 0xc0]), 's16le')]).pipe(decodePcm()));
    assert.deepEqual(Array.from(out.samples), [0.5, -0.5]);
  });
});
