"""Waveform augmentation and training examples built from real clips.

Two kinds of example, both as model input (normalised fbank frames) with labels:
- a clip, as `edgestream classify` sees one: the 1 s recording (shifted, perturbed, mixed with
  background noise), fbank, zero-padded to the training length before normalising (the official
  loader); one label for the whole-clip output;
- a sequence of continuous audio, as `listen` and the service see a stream: words of several
  speakers placed 1–2.5 s apart on a bed of background noise, with a label for the window of the
  last `window` frames ending at every frame (a command wholly inside, a command partly inside
  = no target, other speech, or silence), scored through the windowed head the runtime uses.

Augmentations: speed/pitch (resampling by ±12 %), level, synthetic room reverberation, background
noise of the data set (training part of each recording only) at a random SNR, coloured noise,
time shift. Everything draws from one numpy Generator, so a seed fixes the examples.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio
from scipy.signal import fftconvolve

import features
from speech_commands import COMMANDS, LABELS, RATE, SILENCE, UNKNOWN

HOP, WIN = 160, 400
PAD_VALUE = (0.0 - features.MEAN) / (features.STD * 2)  # a zero fbank frame after normalising
IGNORE = -100  # no target for this window (a command only partly inside it)
SPEEDS = (14000, 14500, 15000, 15500, 16000, 16500, 17000, 17500, 18000)  # resampling targets from 16 kHz


def word_span(w: np.ndarray, rel_db: float = -28.0) -> tuple[int, int]:
    """Sample range of the spoken word in a clip: the first and last 10 ms frames whose energy is
    within `rel_db` of the loudest frame and clearly above the clip's quietest frames."""
    n = len(w) // HOP
    if n < 3:
        return 0, len(w)
    e = (w[:n * HOP].reshape(n, HOP).astype(np.float64) ** 2).mean(1) + 1e-10
    db = 10 * np.log10(e)
    floor = np.percentile(db, 10)
    thr = max(db.max() + rel_db, floor + 6)
    on = np.nonzero(db >= thr)[0]
    if len(on) == 0:
        return 0, len(w)
    return int(on[0] * HOP), int(min(len(w), (on[-1] + 1) * HOP))


def frames_of(samples: int) -> int:
    return 0 if samples < WIN else 1 + (samples - WIN) // HOP


class Augmenter:
    def __init__(self, rng: np.random.Generator, noise: list[np.ndarray], strength: float = 1.0):
        self.rng = rng
        self.noise = [n for n in noise if len(n) > RATE]
        self.s = strength

    # ---- single utterances -------------------------------------------------------------------
    def perturb(self, w: np.ndarray) -> np.ndarray:
        """Speed/pitch (resampling), reverberation, level."""
        r = self.rng
        if r.random() < 0.7 * self.s:
            rate = int(r.choice(SPEEDS))
            if rate != RATE:
                w = torchaudio.functional.resample(torch.from_numpy(w), RATE, rate).numpy()
        if r.random() < 0.3 * self.s:
            w = self.reverb(w)
        peak = float(np.abs(w).max()) + 1e-9
        level = 10 ** (r.uniform(-32, -1) / 20)  # peak level in dBFS
        return (w * (level / peak)).astype(np.float32)

    def reverb(self, w: np.ndarray) -> np.ndarray:
        """A synthetic room: exponentially decaying noise with RT60 0.15–0.7 s, direct path first."""
        r = self.rng
        rt60 = r.uniform(0.15, 0.7)
        n = int(rt60 * RATE * 0.8)
        t = np.arange(n) / RATE
        rir = r.standard_normal(n) * np.exp(-6.9 * t / rt60)
        rir[:int(0.002 * RATE)] = 0
        rir[0] = 1.0 / r.uniform(0.2, 0.8)  # direct-to-reverberant ratio
        out = fftconvolve(w, rir)[:len(w) + n // 2]
        return (out / (np.abs(out).max() + 1e-9) * np.abs(w).max()).astype(np.float32)

    def noise_bed(self, n: int) -> np.ndarray:
        """n samples of background: a data-set noise recording segment, coloured noise, or near silence."""
        r = self.rng
        k = r.random()
        if k < 0.75 and self.noise:
            src = self.noise[int(r.integers(len(self.noise)))]
            if len(src) >= n:
                s = int(r.integers(0, len(src) - n + 1))
                out = src[s:s + n].astype(np.float32)
            else:
                out = np.resize(src, n).astype(np.float32)
        elif k < 0.92:
            white = r.standard_normal(n).astype(np.float32)
            alpha = r.uniform(0, 0.99)  # one-pole low-pass: white … brown-ish
            out = torch.from_numpy(white)
            out = torchaudio.functional.lfilter(out[None], torch.tensor([1.0, -alpha]), torch.tensor([1.0, 0.0]))[0].numpy()
        else:
            out = r.standard_normal(n).astype(np.float32) * 1e-4
        return out.astype(np.float32)

    def add_noise(self, signal: np.ndarray, speech_rms: float, snr_db: tuple[float, float]) -> np.ndarray:
        bed = self.noise_bed(len(signal))
        rms = float(np.sqrt((bed.astype(np.float64) ** 2).mean())) + 1e-9
        snr = self.rng.uniform(*snr_db)
        return signal + bed * (speech_rms / rms / 10 ** (snr / 20))

    # ---- examples ---------------------------------------------------------------------------
    def clip(self, w: np.ndarray, label: int, noise_p: float = 0.8, snr_db: tuple[float, float] = (0, 30)) -> np.ndarray:
        """A 1 s training clip as classify sees it: [frames, mels] normalised, padded to 128 frames."""
        r = self.rng
        if label == 0:  # silence: mostly background noise at some level
            w = self.noise_bed(RATE) * (10 ** (r.uniform(-50, -10) / 20)) if r.random() < 0.6 or not len(w) else w
            w = w * (10 ** (r.uniform(-10, 10) / 20))
        else:
            w = self.perturb(w)
            shift = int(r.integers(-1600, 1601))
            if shift > 0:
                w = np.concatenate([np.zeros(shift, np.float32), w])
            elif shift < 0:
                w = w[-shift:]
            s, e = word_span(w)
            if r.random() < noise_p:
                w = self.add_noise(w, rms_of(w[s:e]), snr_db)
        w = fit(w, RATE)
        return clip_features(w)

    def sequence(self, pool: 'ClipPool', frames: int, window: int, command_p: float = 0.55,
                 snr_db: tuple[float, float] = (0, 30), phrase_p: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Continuous audio of `frames` frames with words 1.0–2.5 s apart (onset to onset) on a noise
        bed, or (with probability `phrase_p`) a phrase: a command among other words that follow each
        other closely as in fluent speech; and the window label of every frame."""
        r = self.rng
        n = WIN + (frames - 1) * HOP
        audio = np.zeros(n, np.float32)
        words: list[tuple[int, int, int]] = []  # (start, end, label) in samples
        if phrase_p > 0 and r.random() < phrase_p:  # (no draw at all without phrases: earlier runs replay exactly)
            self.phrase(pool, audio, words, command_p)
            return self.finish(audio, words, frames, window, snr_db)
        pos = int(r.integers(-RATE, RATE // 2))
        while True:
            label = int(r.integers(2, len(LABELS))) if r.random() < command_p else 1
            w = self.perturb(pool.draw(label, r))
            s, e = word_span(w)
            w = w[max(0, s - 800):e + 800]
            s, e = min(s, 800), min(s, 800) + (e - s)
            if pos + len(w) > 0 and pos < n:
                a, b = max(pos, 0), min(pos + len(w), n)
                audio[a:b] += w[a - pos:b - pos]
                words.append((pos + s, pos + e, label))
            pos += int(r.uniform(1.0, 2.5) * RATE) if words or pos >= 0 else int(r.uniform(0.3, 1.5) * RATE)
            if pos >= n:
                break
        return self.finish(audio, words, frames, window, snr_db)

    def phrase(self, pool: 'ClipPool', audio: np.ndarray, words: list[tuple[int, int, int]], command_p: float) -> None:
        """1–3 other words, a command (or, 1 time in (1 − command_p), another word), then 0–2 more,
        each cut to its spoken part and 30–250 ms after the previous one, at one level (± 3 dB)."""
        r = self.rng
        n = len(audio)
        labels = [1] * int(r.integers(1, 4)) + [int(r.integers(2, len(LABELS))) if r.random() < command_p else 1] + [1] * int(r.integers(0, 3))
        pieces = []
        for label in labels:
            w = self.perturb(pool.draw(label, r))
            s, e = word_span(w)
            m = int(0.03 * RATE)
            w = w[max(0, s - m):e + m]
            pieces.append((w / (np.abs(w).max() + 1e-9) * 10 ** (r.uniform(-3, 3) / 20), min(s, m), min(s, m) + (e - s), label))
        level = 10 ** (r.uniform(-30, -3) / 20)
        # Lay the phrase out, then place it so that its command (if any) is wholly inside the sequence.
        placed, at = [], 0
        for w, s, e, label in pieces:
            placed.append((at, w, s, e, label))
            at += e + int(r.uniform(0.03, 0.25) * RATE) - int(0.03 * RATE)
        cmd = [(a, s, e) for a, w, s, e, label in placed if label >= 2]
        if cmd:
            a, s, e = cmd[0]
            lo, hi = int(0.3 * RATE) - (a + s), n - int(0.2 * RATE) - (a + e)
            shift = int(r.integers(lo, hi + 1)) if hi >= lo else lo
        else:
            shift = int(r.uniform(-0.5, 0.5) * RATE)
        for a, w, s, e, label in placed:
            start = a + shift
            if start + e <= 0 or start + s >= n:
                continue
            lo_w, hi_w = max(0, -start), min(len(w), n - start)
            audio[start + lo_w:start + hi_w] += (w[lo_w:hi_w] * level).astype(np.float32)
            words.append((start + s, start + e, label))

    def finish(self, audio: np.ndarray, words: list[tuple[int, int, int]], frames: int, window: int,
               snr_db: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Noise at a random SNR against the words, fbank, and the window labels."""
        r = self.rng
        n = len(audio)
        speech = [audio[max(0, a):min(n, b)] for a, b, _ in words if b > 0 and a < n]
        level = rms_of(np.concatenate(speech)) if speech else 10 ** (r.uniform(-50, -20) / 20)
        if r.random() < 0.9 or not speech:
            audio = self.add_noise(audio, level, snr_db)
        x = stream_features(audio)[:frames]
        return x, window_labels(words, frames, window)


class ClipPool:
    """Training clips by label, drawn with replacement."""

    def __init__(self, waves: list[np.ndarray], labels: list[int]):
        self.by_label: dict[int, list[np.ndarray]] = {}
        for w, l in zip(waves, labels):
            self.by_label.setdefault(l, []).append(w)

    def draw(self, label: int, rng: np.random.Generator) -> np.ndarray:
        ws = self.by_label[label]
        return ws[int(rng.integers(len(ws)))]


def window_labels(words: list[tuple[int, int, int]], frames: int, window: int, partial: float = 0.8) -> np.ndarray:
    """Label of the window of `window` frames ending at each frame: a command wholly inside (the
    latest if several); no target (IGNORE) while at least `partial` of a command is inside, since
    its end may be cut by the energy-based word span; `_unknown_` where other speech, or less of a
    command (its onset, or its tail as it leaves the window: a stream must not fire on "d…" of
    "down"), overlaps the window; else `_silence_`."""
    y = np.zeros(frames, np.int64)  # _silence_
    t = np.arange(frames)
    lo = np.maximum(t - window + 1, 0) * HOP  # first sample of the window
    hi = t * HOP + WIN  # one past its last sample
    for s, e, label in sorted(words):
        inside = np.clip(np.minimum(e, hi) - np.maximum(s, lo), 0, None) / max(e - s, 1)
        overlap = inside > 0
        if label == 1:
            y[overlap & (y == 0)] = 1
            continue
        whole = inside >= 1.0
        y[whole] = label
        y[overlap & ~whole & (inside >= partial) & (y < 2)] = IGNORE
        y[overlap & (inside < partial) & (y == 0)] = 1
    return y


def rms_of(w: np.ndarray) -> float:
    return float(np.sqrt((w.astype(np.float64) ** 2).mean())) + 1e-9 if len(w) else 1e-9


def fit(w: np.ndarray, n: int) -> np.ndarray:
    return w[:n] if len(w) >= n else np.concatenate([w, np.zeros(n - len(w), np.float32)])


def clip_features(w: np.ndarray) -> np.ndarray:
    return features.clip_features(np.clip(w, -1, 1))


def stream_features(w: np.ndarray) -> np.ndarray:
    return features.stream_features(np.clip(w, -1, 1))
