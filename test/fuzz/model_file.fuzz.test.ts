import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { FRONTEND_LIMITS } from '../../runtime/model/frontend_settings.js';
import { check, checkAsync, concat, mutated, outcome, outcomeAsync, TEST_TIMEOUT } from './fuzz.js';

/**
 * Fuzzing the model file reader (safetensors header and body) and the model loader: any bytes
 * give a model or E_MODEL_FORMAT / E_ARCH_MISMATCH / E_UNKNOWN_ARCH, never another exception; a
 * model that loads runs a frame and gives finite outputs or E_NONFINITE_OUTPUT.
 */
const LOAD_CODES = ['E_MODEL_FORMAT', 'E_ARCH_MISMATCH', 'E_UNKNOWN_ARCH'] as const;
const tiny = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, mels: 16, classes: 4, seed: 7 }).bytes;
const headerLength = Number(new DataView(tiny.buffer, tiny.byteOffset).getBigUint64(0, true));

function file(header: string, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** A decoded file's tensors agree with what the header promised. */
function consistent(f: ReturnType<typeof readSafetensors>): void {
  for (const [name, t] of f.tensors) {
    assert.ok(t.shape.length <= 8 && t.shape.every((d) => Number.isSafeInteger(d) && d >= 0), `${name}: shape ${JSON.stringify(t.shape)}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    assert.equal(t.data.length, n, name);
    assert.ok(['F32', 'F64', 'F16', 'BF16', 'I8', 'U8', 'I32'].includes(t.dtype), name);
  }
}

const dtype = fc.constantFrom('F32', 'F64', 'F16', 'BF16', 'I8', 'U8', 'I32', 'I64', 'C64', '', 'f32');
const dim = fc.oneof(fc.nat({ max: 8 }), fc.constantFrom(-1, 2 ** 31, 2 ** 53, 1e300, 0.5));
const entry = fc.record({
  dtype,
  shape: fc.oneof(fc.array(dim, { maxLength: 4 }), fc.constant('x' as unknown as number[])),
  data_offsets: fc.oneof(fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 300 })), fc.array(fc.integer({ min: -5, max: 400 }), { maxLength: 3 })),
}, { requiredKeys: [] });

describe('fuzz: safetensors header and body', { timeout: TEST_TIMEOUT }, () => {
  it('arbitrary bytes', () => {
    check(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
      const r = outcome(['E_MODEL_FORMAT'], () => readSafetensors(b));
      if (r.ok) consistent(r.value);
    }), 2000);
  });

  it('a plausible length prefix before arbitrary text', () => {
    check(fc.property(fc.string({ maxLength: 300 }), fc.nat({ max: 64 }), (text, data) => {
      const r = outcome(['E_MODEL_FORMAT'], () => readSafetensors(file(text, data)));
      if (r.ok) consistent(r.value);
    }), 2000);
  });

  it('generated headers: dtypes, shapes and offsets that lie', () => {
    const ITEM: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8, C64: 8 };
    const header = fc.record({
      entries: fc.dictionary(fc.string({ maxLength: 6 }), fc.tuple(entry, fc.boolean()), { maxKeys: 6 }),
      metadata: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 5 }), fc.integer())), { nil: undefined }),
      extra: fc.integer({ min: -2, max: 2 }),
    });
    check(fc.property(header, ({ entries, metadata, extra }) => {
      // Mostly offsets that tile the data as the declared shapes need (so that lies about shapes
      // and dtypes get past the offset checks), sometimes the generated ones.
      const h: Record<string, unknown> = {};
      let off = 0;
      for (const [name, [e, tiled]] of Object.entries(entries)) {
        const n = Array.isArray(e.shape) ? e.shape.reduce((a: number, b: number) => a * b, 1) * (ITEM[String(e.dtype)] ?? 1) : NaN;
        if (tiled && Number.isSafeInteger(n) && n >= 0 && n < 4096) { h[name] = { ...e, data_offsets: [off, off + n] }; off += n; }
        else h[name] = e;
      }
      if (metadata !== undefined) h.__metadata__ = metadata;
      const r = outcome(['E_MODEL_FORMAT'], () => readSafetensors(file(JSON.stringify(h), Math.max(0, off + extra))));
      if (r.ok) consistent(r.value);
    }), 3000);
  });

  it('valid files with one tensor region tiled differently are still read exactly', () => {
    check(fc.property(fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 6 }), (sizes) => {
      let off = 0;
      const h: Record<string, unknown> = {};
      sizes.forEach((n, i) => { h[`t${i}`] = { dtype: 'F32', shape: [n], data_offsets: [off, off + 4 * n] }; off += 4 * n; });
      const f = readSafetensors(file(JSON.stringify(h), off));
      assert.equal(f.tensors.size, sizes.length);
      consistent(f);
    }), 300);
  });
});

describe('fuzz: loading model files', { timeout: TEST_TIMEOUT }, () => {
  const frame = new Float32Array(16).fill(0.5);
  const runOnce = async (bytes: Uint8Array): Promise<void> => {
    const r = await outcomeAsync([...LOAD_CODES], () => loadModel(bytes, { backend: 'js' }));
    if (!r.ok) return;
    const s = r.value.createSession();
    const out = outcome(['E_NONFINITE_OUTPUT', 'E_INPUT_SHAPE'], () => { for (let t = 0; t < 8; t++) s.push(frame.subarray(0, r.value.inputDim)); return s.flush(); });
    if (out.ok) for (const o of out.value) assert.ok(o.every(Number.isFinite));
  };

  it('mutations of a valid model file (header and data)', async () => {
    await checkAsync(fc.asyncProperty(mutated(tiny, 8 + headerLength), runOnce), 150);
    await checkAsync(fc.asyncProperty(mutated(tiny), runOnce), 100);
  });

  it('metadata values of any kind in a valid file', async () => {
    const meta = JSON.parse(new TextDecoder().decode(tiny.subarray(8, 8 + headerLength))) as Record<string, any>;
    const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v));
    const field = fc.constantFrom('format', 'version', 'arch', 'variant', 'config', 'labels', 'frontend', 'decision', 'name');
    await checkAsync(fc.asyncProperty(field, fc.oneof(json, fc.string({ maxLength: 20 })), async (k, v) => {
      const h = structuredClone(meta);
      h.__metadata__[k] = v;
      const text = JSON.stringify(h);
      await runOnce(concat(file(text, 0).subarray(0, 8 + new TextEncoder().encode(text).length), tiny.subarray(8 + headerLength)));
    }), 300);
  });

  it('front-end settings anywhere near and beyond their limits load or are refused, and never spin', async () => {
    const meta = JSON.parse(new TextDecoder().decode(tiny.subarray(8, 8 + headerLength))) as Record<string, any>;
    const fe = JSON.parse(meta.__metadata__.frontend);
    const num = (lo: number, hi: number) => fc.oneof(fc.double({ min: lo, max: hi, noNaN: true }), fc.constantFrom(lo, hi, 0, -1, 1e300, 2 ** 31));
    const settings = fc.record({
      sampleRate: num(1, 1e6), frameLengthMs: num(0, 2 * FRONTEND_LIMITS.maxFrameMs), frameShiftMs: num(0, 2 * FRONTEND_LIMITS.maxFrameMs),
      clipFrames: num(0, 1e9), lowFreq: num(-10, 1e6), highFreq: num(-1e6, 1e6), preemphasis: num(-1, 2), dither: num(-1, 10),
    }, { requiredKeys: [] });
    await checkAsync(fc.asyncProperty(settings, async (s) => {
      const h = structuredClone(meta);
      h.__metadata__.frontend = JSON.stringify({ ...fe, ...s });
      const text = JSON.stringify(h);
      const bytes = concat(file(text, 0).subarray(0, 8 + new TextEncoder().encode(text).length), tiny.subarray(8 + headerLength));
      const r = await outcomeAsync([...LOAD_CODES], () => loadModel(bytes, { backend: 'js' }));
      if (!r.ok) return;
      const f = r.value.frontend!;
      assert.ok(f.clipFrames <= FRONTEND_LIMITS.maxClipFrames && f.sampleRate >= 4000 && f.sampleRate <= 384_000);
      // A model that loads gets a front end that works: 0.1 s of audio through it.
      const { createAudioFrontend } = await import('../../runtime/audio/audio_frontend.js');
      const frontend = createAudioFrontend(f, { inputRate: 16000 });
      frontend.push(new Float32Array(1600).fill(0.01));
      frontend.flush();
    }), 300);
  });
});
