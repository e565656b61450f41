import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FrontendSettings } from '../../runtime/model/frontend_settings.js';
import { ROOT } from './paths.js';

/** Debian's Python, which has torch/torchaudio (the `python3` on PATH may not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Why torchaudio cannot be used here, or null when it can. */
export function torchaudioUnavailable(): string | null {
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} is missing (Debian package python3)`;
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import torchaudio'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'torchaudio is not importable by /usr/bin/python3 (Debian package python3-torchaudio)';
}

/** torchaudio's keyword arguments for our front-end settings (sample_frequency comes from the WAV). */
export function fbankKwargs(s: FrontendSettings): Record<string, unknown> {
  return {
    num_mel_bins: s.melBins,
    frame_length: s.frameLengthMs,
    frame_shift: s.frameShiftMs,
    window_type: s.window,
    preemphasis_coefficient: s.preemphasis,
    remove_dc_offset: s.removeDcOffset,
    low_freq: s.lowFreq,
    high_freq: s.highFreq,
    htk_compat: s.htkCompat,
    use_energy: s.useEnergy,
    dither: s.dither,
  };
}

/** Run the reference script over every job in one Python process (torch starts slowly). */
export function runTorchaudioFbank(jobsFile: string): void {
  const r = spawnSync(SYSTEM_PYTHON, [join(ROOT, 'test/helpers/torchaudio_fbank.py'), jobsFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torchaudio reference failed: ${r.stderr}`);
}
