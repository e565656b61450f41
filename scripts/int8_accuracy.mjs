#!/usr/bin/env node
// The accuracy cost of int8 weights on the golden sets: every frame of every stream through the
// float32 and the int8 model (wasm tier), compared with each other and with the official output.
// `npm run build && node scripts/int8_accuracy.mjs [golden/lmuformer dir]`
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { importLmuformerCheckpoint } = await import(new URL('models/lmuformer/import_checkpoint.js', dist).href);
const { compareFrames } = await import(new URL('models/lmuformer/conformance.js', dist).href);
const { readFileBytes } = await import(new URL('runtime/io/files.js', dist).href);
const { readNpy } = await import(new URL('runtime/io/npy.js', dist).href);
const { loadModel } = await import(new URL('runtime/model/load_model.js', dist).href);
const { streamFrames } = await import(new URL('runtime/stream/stream_frames.js', dist).href);

// As the tests find them: $EDGESTREAM_GOLDEN, else ../shared/golden beside the repository.
const golden = process.env.EDGESTREAM_GOLDEN ?? new URL('../../shared/golden', import.meta.url).pathname;
const root = process.argv[2] ?? join(golden, 'lmuformer');
for (const set of readdirSync(root).sort()) {
  const dir = join(root, set);
  const { bytes } = importLmuformerCheckpoint(readFileBytes(join(dir, 'model.pth')), { arch: 'auto' });
  const input = readNpy(readFileBytes(join(dir, 'input.npy')));
  const official = readNpy(readFileBytes(join(dir, 'all_seq.npy')));
  const [batch, frames] = input.shape;
  const K = official.shape[2];
  const f32 = streamFrames(await loadModel(bytes, { backend: 'wasm' }), input.data, batch, frames);
  const int8 = streamFrames(await loadModel(bytes, { backend: 'wasm', int8: true }), input.data, batch, frames);
  const vsF32 = compareFrames(int8, f32, batch * frames, K, 0);
  const vsOfficial = compareFrames(int8, official.data, batch * frames, K, 0);
  const n = batch * frames;
  // How decisive the float32 model is: the median gap between its two largest logits (the golden
  // models are untrained, so their logits are close together and argmax flips easily).
  const gaps = [];
  for (let f = 0; f < n; f++) {
    const row = Array.from(f32.subarray(f * K, (f + 1) * K)).sort((a, b) => b - a);
    gaps.push(row[0] - row[1]);
  }
  gaps.sort((a, b) => a - b);
  process.stdout.write(`${set.padEnd(28)} int8 vs float32: argmax agrees on ${n - vsF32.argmaxMismatches}/${n} frames, max |Δlogit| ${vsF32.maxAbsError.toFixed(4)} (float32 top-2 logit gap: median ${gaps[n >> 1].toFixed(4)}); vs official: argmax ${n - vsOfficial.argmaxMismatches}/${n}\n`);
}
