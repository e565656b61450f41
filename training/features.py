"""The official LMUFormer front end (specs/lmuformer.md): Kaldi fbank via torchaudio with the official
settings, zero-padded to 128 frames BEFORE normalising, then (x + 6.845978) / (5.5654526 · 2).
The whole-clip waveform mean is NOT subtracted (a stream cannot do that; per-frame DC removal remains)."""
from __future__ import annotations

import numpy as np
import torch
import torchaudio

RATE = 16000
FRAMES = 128
MELS = 128
MEAN, STD = -6.845978, 5.5654526
# Samples that give exactly 128 frames of 25 ms with a 10 ms hop (snip_edges): 400 + 127 · 160.
CLIP_SAMPLES = 400 + (FRAMES - 1) * 160


def fbank(wave: np.ndarray) -> torch.Tensor:
    """Raw log-mel fbank [frames, 128] of float audio in [-1, 1] at 16 kHz."""
    w = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).unsqueeze(0)
    return torchaudio.compliance.kaldi.fbank(w, htk_compat=True, sample_frequency=RATE, use_energy=False,
                                             window_type='hanning', num_mel_bins=MELS, dither=0.0, frame_shift=10)


def clip_features(wave: np.ndarray) -> np.ndarray:
    """Model input [128, 128] float32 for one clip: fbank, cut or zero-pad to 128 frames, normalise."""
    f = fbank(wave)
    n = f.shape[0]
    if n < FRAMES:
        f = torch.nn.functional.pad(f, (0, 0, 0, FRAMES - n))
    else:
        f = f[:FRAMES]
    return ((f - MEAN) / (STD * 2)).numpy().astype(np.float32)


def stream_features(wave: np.ndarray) -> np.ndarray:
    """Normalised fbank of a whole recording [frames, 128] (no padding): what a stream sees."""
    return ((fbank(wave) - MEAN) / (STD * 2)).numpy().astype(np.float32)
