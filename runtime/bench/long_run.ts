import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from '../engine/engine.js';
import type { Model } from '../model/model.js';
import { noiseFrames } from './latency.js';

export interface LongRunOptions {
  /** Stream-steps in total (frames stepped over all streams). */
  steps: number;
  streams: number;
  /** Memory samples over the run. */
  samples: number;
  seed: number;
  progress?: (done: number, total: number) => void;
}

export interface MemorySample {
  steps: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface LongRunResult {
  steps: number;
  streams: number;
  seconds: number;
  samples: MemorySample[];
  /** Growth from the first sample after warm-up (10 % of the run) to the last. */
  heapGrowthBytes: number;
  rssGrowthBytes: number;
  /** Streams closed and reopened during the run (join/leave churn). */
  reopened: number;
  dropped: number;
  pass: boolean;
}

/** Heap may wobble by this much at the end of a run without counting as growth. */
export const HEAP_GROWTH_LIMIT = 4 << 20;
export const RSS_GROWTH_LIMIT = 32 << 20;

function gcFunction(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

/**
 * Memory over a long run: an in-thread engine steps `streams` streams for `steps` stream-steps
 * in total (streams leave and new ones join every tenth of the run), sampling RSS and the
 * garbage-collected heap. Passes if neither grows after the warm-up beyond a small allowance.
 */
export async function longRun(model: Model, o: LongRunOptions): Promise<LongRunResult> {
  const gc = gcFunction();
  const engine = await Engine.create(model, { maxBatch: o.streams, queueFrames: 64 });
  const F = engine.inputDim;
  const pool = 256;
  const frames = noiseFrames(pool, F, o.seed);
  let outputs = 0;
  engine.onOutput(() => { outputs++; });
  const ids = Array.from({ length: o.streams }, (_, i) => `s${i}`);
  for (const id of ids) engine.open(id);
  const rounds = Math.ceil(o.steps / o.streams);
  const burst = 32;
  const samples: MemorySample[] = [];
  const sampleEvery = Math.max(1, Math.floor(rounds / o.samples));
  const churnEvery = Math.max(1, Math.floor(rounds / 10));
  let reopened = 0;
  let next = 0;
  const t0 = performance.now();
  const idle = async (): Promise<void> => {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if ((await engine.stats()).queued === 0) return;
    }
  };
  for (let r = 0; r < rounds; r += burst) {
    const n = Math.min(burst, rounds - r);
    for (let k = 0; k < n; k++) {
      for (const id of ids) {
        const f = next++ % pool;
        engine.push(id, frames.subarray(f * F, (f + 1) * F));
      }
    }
    await idle();
    const done = r + n;
    if (Math.floor(done / churnEvery) !== Math.floor(r / churnEvery) && done < rounds) {
      const i = reopened % ids.length;
      await engine.close(ids[i]!);
      ids[i] = `s${o.streams + reopened}`;
      engine.open(ids[i]!);
      reopened++;
    }
    if (Math.floor(done / sampleEvery) !== Math.floor(r / sampleEvery) || done === rounds) {
      gc?.();
      const m = process.memoryUsage();
      samples.push({ steps: done * o.streams, rssBytes: m.rss, heapUsedBytes: m.heapUsed });
      o.progress?.(done * o.streams, rounds * o.streams);
    }
  }
  const stats = await engine.stats();
  for (const id of ids) await engine.close(id);
  await engine.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const warm = samples.find((s) => s.steps >= 0.1 * rounds * o.streams) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const heapGrowthBytes = last.heapUsedBytes - warm.heapUsedBytes;
  const rssGrowthBytes = last.rssBytes - warm.rssBytes;
  return {
    steps: rounds * o.streams, streams: o.streams, seconds, samples, heapGrowthBytes, rssGrowthBytes, reopened,
    dropped: stats.dropped, pass: heapGrowthBytes <= HEAP_GROWTH_LIMIT && rssGrowthBytes <= RSS_GROWTH_LIMIT && stats.dropped === 0 && outputs > 0,
  };
}
