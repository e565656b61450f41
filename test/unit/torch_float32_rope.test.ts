import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FlaRopeTable, inverseFrequencies, TttRopeTable } from '../../models/ttt/layers/rope.js';
import { glibcPowf, sleefPowf } from '../../models/ttt/float32/torch_pow32.js';
import { cosf32, sinf32, sleefCosf, sleefSinf } from '../../models/ttt/float32/torch_trig32.js';
import { ROOT } from '../helpers/paths.js';

/**
 * PyTorch's float32 sin/cos/pow bits (test/fixtures/torch_float32_rope.json, written by
 * models/ttt/tools/gen_trig_fixture.py from torch 1.13 on an AVX2 CPU) against the emulation.
 */
interface Fixture {
  lanes: Record<'angle' | 'wide_sin' | 'wide_cos' | 'narrow_angle' | 'narrow_sin' | 'narrow_cos', string>;
  tables: ({ kind: 'fla' | 'ttt'; dim: number; theta: number; rows: number[]; inv_freq: string; cos: string; sin: string;
    table_rows?: number; K?: number; L?: number })[];
  inv_freq: { theta: number; dims: [number, number]; bits: string }[];
}

const fixture = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/torch_float32_rope.json'), 'utf8')) as Fixture;

function floats(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const words = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32LE(4 * i);
  return new Float32Array(words.buffer);
}

const hexBits = (x: number): string => `0x${new Uint32Array(Float32Array.of(x).buffer)[0]!.toString(16).padStart(8, '0')}`;

/** Indices where got and want differ as float32 bit patterns (any NaN equals any NaN). */
function mismatches(got: ArrayLike<number>, want: Float32Array, what: (i: number) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = Math.fround(got[i]!);
    const w = want[i]!;
    const same = Number.isNaN(w) ? Number.isNaN(g) : Object.is(g, w);
    if (!same) out.push(`${what(i)}: got ${g} (${hexBits(g)}), torch ${w} (${hexBits(w)})`);
  }
  return out;
}

describe('PyTorch float32 sin/cos (SLEEF u10 emulation)', () => {
  const angle = floats(fixture.lanes.angle);
  const nAngle = floats(fixture.lanes.narrow_angle);

  it('the fixture covers every reduction range', () => {
    const abs = Array.from(angle, Math.abs);
    assert.ok(abs.some((a) => a < 1e-20), 'tiny angles');
    assert.ok(abs.filter((a) => a < 125).length > 500, 'narrow range');
    assert.ok(abs.filter((a) => a >= 125 && a < 1e5).length > 500, 'medium range');
    assert.ok(abs.filter((a) => a > 1e30 && Number.isFinite(a)).length > 20, 'huge angles');
    assert.ok(abs.some((a) => !Number.isFinite(a)), 'inf / nan');
  });

  it('lanes of a vector that takes the Payne–Hanek path match torch bit for bit', () => {
    const sinBad = mismatches(Array.from(angle, (a) => sleefSinf(a, true)), floats(fixture.lanes.wide_sin), (i) => `sin(${angle[i]})`);
    const cosBad = mismatches(Array.from(angle, (a) => sleefCosf(a, true)), floats(fixture.lanes.wide_cos), (i) => `cos(${angle[i]})`);
    assert.deepEqual([...sinBad, ...cosBad].slice(0, 10), []);
  });

  it('lanes of an all-narrow vector (Cody–Waite) match torch bit for bit', () => {
    const sinBad = mismatches(Array.from(nAngle, (a) => sleefSinf(a, false)), floats(fixture.lanes.narrow_sin), (i) => `sin(${nAngle[i]})`);
    const cosBad = mismatches(Array.from(nAngle, (a) => sleefCosf(a, false)), floats(fixture.lanes.narrow_cos), (i) => `cos(${nAngle[i]})`);
    assert.deepEqual([...sinBad, ...cosBad].slice(0, 10), []);
    // sinf32/cosf32 are the lone-lane variants
    assert.deepEqual(mismatches(Array.from(nAngle, sinf32), floats(fixture.lanes.narrow_sin), (i) => `sinf32(${nAngle[i]})`).slice(0, 5), []);
    assert.deepEqual(mismatches(Array.from(nAngle, cosf32), floats(fixture.lanes.narrow_cos), (i) => `cosf32(${nAngle[i]})`).slice(0, 5), []);
  });

  it('the fixture is not trivially satisfiable: torch is neither correctly rounded nor lane-independent', () => {
    const wideSin = floats(fixture.lanes.wide_sin);
    let offCorrectRounding = 0;
    for (let i = 0; i < angle.length; i++) if (Number.isFinite(angle[i]!) && wideSin[i] !== Math.fround(Math.sin(angle[i]!))) offCorrectRounding++;
    assert.ok(offCorrectRounding > 20, `only ${offCorrectRounding} torch values differ from the correctly rounded sin`);
    // The same angle gives different bits in a narrow and in a wide vector for some angles.
    const wideAt = new Map<number, number>();
    for (let i = 0; i < angle.length; i++) wideAt.set(angle[i]!, floats(fixture.lanes.wide_cos)[i]!);
    const nCos = floats(fixture.lanes.narrow_cos);
    let layoutDependent = 0;
    for (let i = 0; i < nAngle.length; i++) if (wideAt.get(nAngle[i]!) !== nCos[i]) layoutDependent++;
    assert.ok(layoutDependent > 5, `only ${layoutDependent} angles depend on the reduction path`);
  });

  it('refuses to run a lane needing Payne–Hanek on the narrow path', () => {
    assert.throws(() => sleefSinf(125, false), RangeError);
    assert.throws(() => sleefCosf(Number.NaN, false), RangeError);
    assert.ok(Number.isNaN(sinf32(Infinity)) && Number.isNaN(cosf32(Number.NaN)));
    assert.ok(Object.is(sinf32(-0), -0));
  });
});

describe('official RoPE tables (inv_freq, layout, cos/sin) equal torch bit for bit', () => {
  for (const t of fixture.tables) {
    const label = t.kind === 'fla' ? `fla/LaCT head dim ${t.dim}, theta ${t.theta}, ${t.table_rows} rows` : `ttt.py head dim ${t.dim}, theta ${t.theta}, K ${t.K}, L ${t.L}`;
    it(label, () => {
      const inv = inverseFrequencies(t.dim, t.theta);
      assert.deepEqual(mismatches(inv, floats(t.inv_freq), (i) => `inv_freq[${i}]`), []);
      const width = t.kind === 'fla' ? t.dim / 2 : t.dim;
      const cos = new Float64Array(width);
      const sin = new Float64Array(width);
      const wantCos = floats(t.cos);
      const wantSin = floats(t.sin);
      const fla = t.kind === 'fla' ? new FlaRopeTable(inv, t.table_rows) : null;
      const ttt = t.kind === 'ttt' ? new TttRopeTable(inv, t.K!, t.L) : null;
      const bad: string[] = [];
      t.rows.forEach((row, j) => {
        if (fla) fla.row(row, cos, sin); else ttt!.row(row, cos, sin);
        bad.push(...mismatches(cos, wantCos.subarray(j * width, (j + 1) * width), (i) => `cos row ${row} [${i}]`));
        bad.push(...mismatches(sin, wantSin.subarray(j * width, (j + 1) * width), (i) => `sin row ${row} [${i}]`));
      });
      assert.deepEqual(bad.slice(0, 10), []);
    });
  }

  for (const set of fixture.inv_freq) {
    it(`inv_freq for every even head dim 2…256, theta ${set.theta} (SLEEF powf for 16-blocks, glibc powf for the rest)`, () => {
      const want = floats(set.bits);
      let at = 0;
      const bad: string[] = [];
      for (let dim = set.dims[0]; dim <= set.dims[1]; dim += 2) {
        const inv = inverseFrequencies(dim, set.theta);
        bad.push(...mismatches(inv, want.subarray(at, at + dim / 2), (i) => `dim ${dim} inv_freq[${i}]`));
        at += dim / 2;
      }
      assert.equal(at, want.length);
      assert.deepEqual(bad.slice(0, 10), []);
    });
  }

  it('SLEEF and glibc powf really differ from each other (so the 16-block split matters)', () => {
    let differ = 0;
    for (let i = 1; i < 2000; i++) if (sleefPowf(10000, i / 2000) !== glibcPowf(10000, i / 2000)) differ++;
    assert.ok(differ > 0, 'SLEEF powf and glibc powf agree everywhere on this grid');
  });
});
