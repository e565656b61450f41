"""Real Speech Commands recordings: index a folder, split it by speaker, load the audio.

The layout is the data set's own (`<word>/<speaker>_nohash_<n>.wav|flac`, `_silence_/`,
`_background_noise_/`), so `--data` can point at `../shared/data/speech-commands` or at a user's full
download of Speech Commands v0.01/v0.02. The task is the standard 12-class one: the ten commands,
`_unknown_` (any other word) and `_silence_` (no speech).

Splits are by speaker, never by clip: a speaker's hash decides the side, so every clip of a speaker
is on one side and adding files never moves a speaker (the data set's own `which_set` idea).
Unreadable, empty or non-audio files are reported with their path and skipped; the run goes on.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio

RATE = 16000
COMMANDS = ('yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go')
SILENCE, UNKNOWN = '_silence_', '_unknown_'
# The label order of the standard 12-class task (TensorFlow's speech_commands recipe).
LABELS = (SILENCE, UNKNOWN) + COMMANDS
NOISE_DIR = '_background_noise_'
AUDIO_EXT = ('.wav', '.flac')


@dataclass(frozen=True)
class Clip:
    path: str
    word: str  # the folder name: a command, another word, or _silence_
    speaker: str  # `<speaker>` of `<speaker>_nohash_<n>`; silence clips: the file name

    @property
    def label(self) -> int:
        """Index in LABELS."""
        if self.word == SILENCE:
            return 0
        return LABELS.index(self.word) if self.word in COMMANDS else 1


def speaker_of(name: str) -> str:
    stem = os.path.splitext(name)[0]
    return stem.split('_nohash_')[0] if '_nohash_' in stem else stem


def index(data: str) -> list[Clip]:
    """Every clip under `data` (sorted, so a run is reproducible), background noise excluded."""
    if not os.path.isdir(data):
        raise SystemExit(f'speech-commands: {data} is not a folder (expected <word>/<speaker>_nohash_<n>.wav|flac)')
    clips = []
    for word in sorted(os.listdir(data)):
        folder = os.path.join(data, word)
        if word == NOISE_DIR or not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(AUDIO_EXT):
                clips.append(Clip(os.path.abspath(os.path.join(folder, name)), word, speaker_of(name)))
    if not clips:
        raise SystemExit(f'speech-commands: no .wav or .flac clips under {data}')
    return clips


def bucket(key: str) -> float:
    """A stable number in [0, 100) for a speaker (or any key)."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 10000 / 100


def split(clips: list[Clip], val_percent: float) -> tuple[list[Clip], list[Clip]]:
    """(train, validation) by speaker hash; every speaker lands on one side only."""
    train = [c for c in clips if bucket(c.speaker) >= val_percent]
    val = [c for c in clips if bucket(c.speaker) < val_percent]
    assert not ({c.speaker for c in train} & {c.speaker for c in val})
    return train, val


def warn(msg: str) -> None:
    print(f'[data] warning: {msg}', file=sys.stderr, flush=True)


def load_audio(path: str) -> np.ndarray | None:
    """float32 mono samples at 16 kHz in [-1, 1], or None (with a warning naming the file) when the
    file cannot be used. Other rates are resampled; of several channels the first is used."""
    try:
        wave, rate = torchaudio.load(path)
    except Exception as e:  # a corrupt or non-audio file: name it and go on
        warn(f'{path}: unreadable ({str(e).splitlines()[0] if str(e) else type(e).__name__}); skipped')
        return None
    if wave.numel() == 0:
        warn(f'{path}: no samples; skipped')
        return None
    try:
        declared = torchaudio.info(path).num_frames
    except Exception:
        declared = 0
    if declared > wave.shape[1]:
        warn(f'{path}: truncated ({wave.shape[1]} of the {declared} samples its header declares); what is there is used')
    if wave.shape[0] > 1:
        warn(f'{path}: {wave.shape[0]} channels; the first is used')
    w = wave[0]
    if rate != RATE:
        w = torchaudio.functional.resample(w, rate, RATE)
    w = w.numpy().astype(np.float32)
    if not np.isfinite(w).all():
        warn(f'{path}: non-finite samples; skipped')
        return None
    return w


def load_waves(clips: list[Clip], cache: str | None = None) -> tuple[list[Clip], list[np.ndarray]]:
    """Audio of every usable clip (the clips that could not be read are dropped from the list).
    With `cache`, the decoded audio is kept in an .npz keyed by the clip list."""
    key = hashlib.sha1('\n'.join(c.path for c in clips).encode()).hexdigest()[:16]
    if cache and os.path.exists(cache):
        d = np.load(cache, allow_pickle=False)
        if str(d['key']) == key:
            ok = set(d['paths'].tolist())
            kept = [c for c in clips if c.path in ok]
            lens = d['lengths']
            flat = d['samples']
            offs = np.concatenate([[0], np.cumsum(lens)])
            return kept, [flat[offs[i]:offs[i + 1]] for i in range(len(kept))]
    kept, waves = [], []
    for i, c in enumerate(clips):
        w = load_audio(c.path)
        if w is not None:
            kept.append(c)
            waves.append(w)
        if (i + 1) % 1000 == 0:
            print(f'[data] decoded {i + 1}/{len(clips)} clips', flush=True)
    if cache:
        os.makedirs(os.path.dirname(cache) or '.', exist_ok=True)
        tmp = cache + '.tmp.npz'
        np.savez(tmp, key=key, paths=np.array([c.path for c in kept]), lengths=np.array([len(w) for w in waves]),
                 samples=np.concatenate(waves))
        os.replace(tmp, cache)
    return kept, waves


def load_noise(data: str) -> dict[str, np.ndarray]:
    """The long background-noise recordings (name → samples); missing folder → empty."""
    folder = os.path.join(data, NOISE_DIR)
    out: dict[str, np.ndarray] = {}
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(AUDIO_EXT):
                w = load_audio(os.path.join(folder, name))
                if w is not None and len(w) >= RATE:
                    out[os.path.splitext(name)[0]] = w
    return out


def noise_parts(noise: dict[str, np.ndarray], part: str, val_fraction: float = 0.2) -> list[np.ndarray]:
    """Training noise is the first 80 % of each recording, validation noise the last 20 %, so that
    validation streams never hear a noise segment the model trained on."""
    out = []
    for w in noise.values():
        cut = int(len(w) * (1 - val_fraction))
        out.append(w[:cut] if part == 'train' else w[cut:])
    return out


def as_tensor(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))


def main() -> None:
    """`python3 speech_commands.py <folder>`: index and decode a data folder, report what would be
    used (per label and split) and every file that cannot be, as JSON on stdout."""
    import argparse
    import json
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument('data')
    ap.add_argument('--val-percent', type=float, default=15)
    args = ap.parse_args()
    clips = index(args.data)
    train, val = split(clips, args.val_percent)
    out = {}
    for name, part in (('train', train), ('val', val)):
        kept, _ = load_waves(part)
        out[name] = {'clips': len(kept), 'skipped': len(part) - len(kept), 'speakers': len({c.speaker for c in kept}),
                     'labels': {l: sum(c.label == i for c in kept) for i, l in enumerate(LABELS)}}
    out['noise_recordings'] = len(load_noise(args.data))
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
