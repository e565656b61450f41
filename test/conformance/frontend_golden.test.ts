import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAudioFrontend } from '../../runtime/audio/audio_frontend.js';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { FRONTEND_TOL, frontendGoldenRunner } from '../../runtime/audio/conformance.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { LMUFORMER_FRONTEND } from '../../runtime/model/frontend_settings.js';
import { GOLDEN } from '../helpers/paths.js';
import { randomChunks } from '../helpers/wav_bytes.js';

// Every WAV in the front-end golden set (torchaudio's Kaldi fbank with the LMUFormer settings),
// streamed through the public front end: raw log-mel and normalised frames.
const root = join(GOLDEN, 'frontend');
const wavs = existsSync(root) ? readdirSync(root).filter((f) => frontendGoldenRunner.matches(join(root, f))).sort() : [];

describe('Audio front end golden vectors', () => {
  it('finds the golden WAVs', () => assert.ok(wavs.length >= 1, `found ${wavs.length} in ${root}`));

  for (const wav of wavs) {
    it(`${wav}: every frame within ${FRONTEND_TOL} of torchaudio (raw and normalised)`, async (t) => {
      const r = await frontendGoldenRunner.run(join(root, wav), {});
      t.diagnostic(`${wav}: ${r.note}`);
      assert.ok(r.pass, `${wav}: max abs error ${r.maxAbsError} (tol ${r.tol}); ${r.note}`);
    });

    it(`${wav}: random byte chunkings give the same frames as one shot`, () => {
      const bytes = readFileBytes(join(root, wav));
      const oneShot = computeFeatures(bytes, LMUFORMER_FRONTEND);
      for (const [seed, max] of [[1, 2], [2, 999], [3, 50000]] as const) {
        const fe = createAudioFrontend(LMUFORMER_FRONTEND);
        const frames = randomChunks(bytes, seed, max).flatMap((c) => fe.push(c));
        frames.push(...fe.flush());
        const data = new Float32Array(frames.length * 128);
        frames.forEach((f, i) => data.set(f, i * 128));
        assert.deepEqual(data, oneShot.data, `chunks ≤ ${max} bytes`);
      }
    });
  }
});
