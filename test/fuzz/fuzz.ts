import fc from 'fast-check';
import { EdgestreamError, type ErrorCode } from '../../runtime/errors.js';

/**
 * Shared settings of the property-based fuzz tests. `npm test` runs every property with a fixed
 * seed and a small number of runs; `npm run fuzz` (scripts/fuzz.mjs) sets FUZZ_RUNS (runs per
 * property) and FUZZ_SEED (printed, so a failure can be replayed; fast-check's failure message
 * also gives the `path` to replay the one failing case with FUZZ_PATH).
 */
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 1_302_013;
const longRuns = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : null;
const path = process.env.FUZZ_PATH;

/** Runs of a property: `base` in `npm test`, FUZZ_RUNS in `npm run fuzz`. */
export function runs(base: number): number {
  return longRuns ?? base;
}

/** Whether this is a long `npm run fuzz` session (node test timeouts are lifted). */
export const LONG = longRuns !== null;
/** Per-test timeout: a hang guard in `npm test`, none in long runs. */
export const TEST_TIMEOUT = LONG ? Infinity : 120_000;

export function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, baseRuns: number): void {
  fc.assert(property, { seed, numRuns: runs(baseRuns), ...(path !== undefined && { path }), endOnFailure: true });
}

export async function checkAsync<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<Ts>, baseRuns: number): Promise<void> {
  await fc.assert(property, { seed, numRuns: runs(baseRuns), ...(path !== undefined && { path }), endOnFailure: true });
}

/**
 * A hang guard, not a speed target: every fuzz input is at most tens of KB, so a parser that spends
 * seconds on one has unbounded work in it (a loop driven by a declared count, a size it trusts).
 */
const MAX_MS_PER_INPUT = 10_000;

function guard(started: number): void {
  const ms = performance.now() - started;
  if (ms > MAX_MS_PER_INPUT) throw new Error(`one input took ${Math.round(ms)} ms (more than ${MAX_MS_PER_INPUT}): unbounded work?`);
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

/**
 * Run `fn`: a result, or an EdgestreamError whose code is one of `codes`. Anything else thrown
 * (TypeError, RangeError, a foreign error) fails the property: that is the bug fuzzing looks for.
 */
export function outcome<T>(codes: readonly ErrorCode[], fn: () => T): Outcome<T> {
  const started = performance.now();
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return refused(codes, e);
  } finally {
    guard(started);
  }
}

export async function outcomeAsync<T>(codes: readonly ErrorCode[], fn: () => Promise<T>): Promise<Outcome<T>> {
  const started = performance.now();
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return refused(codes, e);
  } finally {
    guard(started);
  }
}

function refused(codes: readonly ErrorCode[], e: unknown): { ok: false; code: ErrorCode; message: string } {
  if (e instanceof EdgestreamError && codes.includes(e.code) && e.message.length > 0) return { ok: false, code: e.code, message: e.message };
  const what = e instanceof Error ? `${e.name}${e instanceof EdgestreamError ? ` ${e.code}` : ''}: ${e.message}\n${e.stack ?? ''}` : String(e);
  throw new Error(`expected a result or an EdgestreamError with code ${codes.join(' | ')}, got ${what}`);
}

/** Byte-level mutations of a valid input: overwrite, insert, delete, truncate. */
export function mutated(base: Uint8Array, focus = base.length): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat({ max: Math.max(0, focus - 1) }), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: focus }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: Math.max(0, focus - 1) }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat({ max: base.length }), bytes: fc.constant(new Uint8Array(0)) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    // Copies only (Buffer#slice would be a view into `base`).
    let b: Uint8Array = new Uint8Array(base);
    for (const e of edits) {
      const at = Math.min(e.at, b.length);
      if (e.kind === 'set') { b = new Uint8Array(b); b.set(e.bytes.subarray(0, b.length - at), at); }
      else if (e.kind === 'insert') b = concat(b.subarray(0, at), e.bytes, b.subarray(at));
      else if (e.kind === 'delete') b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + e.bytes.length)));
      else b = new Uint8Array(b.subarray(0, at));
    }
    return b;
  });
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Cut bytes into chunks at the given (sorted, de-duplicated) positions. */
export function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) { out.push(bytes.subarray(prev, p)); prev = p; }
  out.push(bytes.subarray(prev));
  return out;
}
