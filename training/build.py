"""Step 2: turn the base utterances into augmented 1.28 s clips and their model input features.

Clip kinds (targets: one-hot for a keyword, all zeros otherwise, BCE as in the official training):
  kw        a keyword alone, at a random position in the window
  kwpad     a keyword in a 1 s clip, zero-padded to 128 frames like the official loader does
  kwphrase  a keyword with carrier or other words before and/or after it (the keyword fully inside)
  neg       another word alone;  negphrase  several other words;  noise  silence / noise only
Augmentation: speed (resampling), level, synthetic reverberation, noise (white/pink/brown/hum/babble)
at 0–30 dB SNR, DC offset, a little clipping, int16 quantisation.

Writes <data>/<split>.npz: x [n, 128, 128] float16 normalised features, y [n] label index
(-1 = no keyword), kind, voice; and a few example WAVs in <data>/examples/.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time

import numpy as np
from scipy.io import wavfile
from scipy.signal import fftconvolve, lfilter, resample_poly

import features
import vocab

RATE = features.RATE
L = features.CLIP_SAMPLES
SPEED = (0.85, 1.15)  # default speed perturbation range (resampling: pitch, formants and tempo together)
SPEED_RANGE = list(SPEED)


class Pool:
    def __init__(self, base: str, split: str):
        man = json.load(open(os.path.join(base, 'manifest.json')))
        self.base = base
        self.entries = [e for e in man if vocab.split_of(e) == split]
        self.cache: dict[str, np.ndarray] = {}
        self.kw = {lab: [e for e in self.entries if e['kind'] == 'keyword' and e['label'] == lab] for lab in vocab.LABELS}
        self.neg = [e for e in self.entries if e['kind'] == 'negative']
        self.carrier = [e for e in self.entries if e['kind'] == 'carrier']
        by_cfg: dict[str, list] = {}
        for e in self.entries:
            if e['kind'] != 'keyword':
                by_cfg.setdefault(e['synth'] + '/' + e['cfg'], []).append(e)
        self.others_by_cfg = by_cfg

    def wav(self, e: dict) -> np.ndarray:
        p = e['path']
        if p not in self.cache:
            sr, x = wavfile.read(os.path.join(self.base, p))
            self.cache[p] = x.astype(np.float32) / 32768.0
        return self.cache[p]

    def same_voice_others(self, e: dict, rng: random.Random, n: int) -> list[np.ndarray]:
        cands = self.others_by_cfg.get(e['synth'] + '/' + e['cfg']) or self.neg
        return [self.wav(rng.choice(cands)) for _ in range(n)]


def speed(x: np.ndarray, rng: random.Random) -> np.ndarray:
    f = rng.uniform(*SPEED_RANGE)
    up = 100
    down = int(round(up * f))
    return x if down == up else resample_poly(x, up, down).astype(np.float32)


def colored_noise(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(n).astype(np.float32)
    if kind == 'white':
        return w
    if kind == 'pink':
        b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
        a = [1, -2.494956002, 2.017265875, -0.522189400]
        return lfilter(b, a, w).astype(np.float32)
    if kind == 'brown':
        return lfilter([1.0], [1, -0.995], w).astype(np.float32)
    if kind == 'hum':
        t = np.arange(n) / RATE
        f0 = rng.choice([50.0, 60.0, 100.0, 120.0])
        y = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) for k in range(1, 6))
        return (y + 0.05 * w).astype(np.float32)
    if kind == 'band':  # fan / engine like: low-passed noise
        return lfilter([1.0], [1, -0.95], w).astype(np.float32)
    raise ValueError(kind)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def reverb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rt60 = rng.uniform(0.1, 0.7)
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    rir[0] = rng.uniform(1.0, 4.0)  # direct path
    rir /= np.sqrt(np.sum(rir ** 2))
    return fftconvolve(x, rir)[: len(x)].astype(np.float32)


class Augmenter:
    def __init__(self, pool: Pool, seed: int, strength: float = 1.0, snr: tuple[float, float] = (0.0, 30.0)):
        self.pool = pool
        self.snr = snr
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.strength = strength

    def finish(self, clip: np.ndarray, speech_rms: float, babble_src: list[np.ndarray]) -> np.ndarray:
        r, g = self.rng, self.np
        n = len(clip)
        if r.random() < 0.3 * self.strength:
            clip = reverb(clip, g)
        if speech_rms <= 0:
            speech_rms = 0.05
        if r.random() < 0.75 * self.strength:
            kind = r.choice(['white', 'pink', 'brown', 'hum', 'band', 'babble', 'babble'])
            if kind == 'babble' and babble_src:
                nz = np.zeros(n, np.float32)
                for s in babble_src:
                    s = s[: n]
                    off = r.randint(0, n - len(s)) if len(s) < n else 0
                    nz[off: off + len(s)] += s * r.uniform(0.3, 1.0)
                if rms(nz) < 1e-6:
                    nz = colored_noise(n, 'pink', g)
            else:
                nz = colored_noise(n, 'pink' if kind == 'babble' else kind, g)
            snr = r.uniform(*self.snr)
            clip = clip + nz * (speech_rms / rms(nz) / (10 ** (snr / 20)))
        # overall level: peak between -40 and -1 dBFS
        peak = float(np.abs(clip).max()) + 1e-9
        clip = clip * (10 ** (r.uniform(-40, -1) / 20) / peak)
        if r.random() < 0.15 * self.strength:
            clip = clip + r.choice([-1, 1]) * r.uniform(0.001, 0.1)
        if r.random() < 0.05 * self.strength:
            clip = np.clip(clip * r.uniform(2, 8), -1, 1)
        clip = np.clip(clip, -1, 32767 / 32768)
        return (np.round(clip * 32768) / 32768).astype(np.float32)

    def place(self, parts: list[np.ndarray], key_index: int | None, length: int) -> tuple[np.ndarray, float]:
        """Lay parts end to end with random gaps; cut a window of `length` samples that contains the
        whole keyword part (if any) at a random position. Returns the window and the speech RMS."""
        r = self.rng
        gaps = [r.randint(int(0.02 * RATE), int(0.3 * RATE)) for _ in parts]
        total = sum(len(p) for p in parts) + sum(gaps[1:])
        seq = np.zeros(total, np.float32)
        pos, starts = 0, []
        for i, p in enumerate(parts):
            if i:
                pos += gaps[i]
            starts.append(pos)
            seq[pos: pos + len(p)] += p
            pos += len(p)
        if key_index is not None:
            ks, ke = starts[key_index], starts[key_index] + len(parts[key_index])
            if ke - ks >= length:  # keyword longer than the window: centre it
                lo = hi = ks + (ke - ks - length) // 2
            else:
                lo, hi = ke - length, ks
        else:
            lo, hi = -length // 2, total - length // 2
        start = r.randint(lo, hi)
        win = np.zeros(length, np.float32)
        a, b = max(0, start), min(total, start + length)
        if b > a:
            win[a - start: b - start] = seq[a:b]
        active = win[np.abs(win) > 1e-4]
        return win, rms(active) if active.size else 0.0

    def keyword(self, e: dict, mode: str) -> np.ndarray:
        r = self.rng
        x = speed(self.pool.wav(e), r) * r.uniform(0.5, 1.0)
        if mode == 'kwphrase':
            before = r.random() < 0.7
            after = (not before) or r.random() < 0.6
            parts, k = [], 0
            if before:
                parts += self.pool.same_voice_others(e, r, r.randint(1, 2))
            k = len(parts)
            parts.append(x)
            if after:
                parts += self.pool.same_voice_others(e, r, r.randint(1, 2))
            parts = [p if i == k else speed(p, r) * r.uniform(0.4, 1.0) for i, p in enumerate(parts)]
            win, srms = self.place(parts, k, L)
        else:
            win, srms = self.place([x], 0, 16000 if mode == 'kwpad' else L)
        return self.finish(win, srms, self.babble(2))

    def negative(self, mode: str) -> tuple[np.ndarray, dict | None]:
        r = self.rng
        if mode == 'noise':
            n = L if r.random() < 0.8 else 16000
            clip = np.zeros(n, np.float32)
            return self.finish(clip, 10 ** (r.uniform(-5, -1)), self.babble(r.randint(0, 4))), None
        if mode == 'neg':
            e = r.choice(self.pool.neg)
            win, srms = self.place([speed(self.pool.wav(e), r)], None, L if r.random() < 0.75 else 16000)
        else:
            e = r.choice(self.pool.neg)
            parts = [speed(p, r) * r.uniform(0.4, 1.0) for p in self.pool.same_voice_others(e, r, r.randint(2, 4))]
            win, srms = self.place(parts, None, L)
        return self.finish(win, srms, self.babble(2)), e

    def lay(self, parts: list[np.ndarray], gap: tuple[float, float] = (0.02, 0.3)) -> tuple[np.ndarray, list[int]]:
        """Parts end to end with random gaps; returns the audio and each part's start sample."""
        r = self.rng
        starts, pos = [], 0
        for i, p in enumerate(parts):
            if i:
                pos += r.randint(int(gap[0] * RATE), int(gap[1] * RATE))
            starts.append(pos)
            pos += len(p)
        seq = np.zeros(pos, np.float32)
        for p, a in zip(parts, starts):
            seq[a: a + len(p)] += p
        return seq, starts

    def sequence(self, mode: str, li: int, n: int) -> tuple[np.ndarray, tuple[int, int] | None, dict | None]:
        """A stretch of `n` samples of continuous audio as a stream would see it. Keyword modes put one
        keyword (label index li) somewhere in it, possibly cut by the sequence edges:
          ctx    other words of the same voice before and/or after the keyword (a phrase)
          alone  the keyword with only noise around it
          clip   the keyword fully inside the first 1.28 s (the training-clip case), words after it
          pad    the keyword inside a 1 s clip (the rest is padded in the feature domain by the caller)
        and negatives: negctx (several other words), neg (one other word), noise (no speech).
        Returns the audio, the keyword's [start, end) samples in the sequence (None without one)
        and the base utterance used."""
        r = self.rng
        out = np.zeros(n, np.float32)
        if li >= 0:
            e = r.choice(self.pool.kw[vocab.LABELS[li]])
            kw = speed(self.pool.wav(e), r) * r.uniform(0.5, 1.0)
            before = after = 0
            if mode == 'ctx':
                before = r.choice([0, 1, 1, 2, 2, 3])
                after = r.choice([1, 1, 2, 2, 3]) if before == 0 else r.choice([0, 1, 2, 3])
            elif mode == 'clip':
                after = r.choice([0, 1, 2, 3])
            parts = [speed(p, r) * r.uniform(0.4, 1.0) for p in self.pool.same_voice_others(e, r, before)]
            parts.append(kw)
            parts += [speed(p, r) * r.uniform(0.4, 1.0) for p in self.pool.same_voice_others(e, r, after)]
            seq, starts = self.lay(parts)
            ks = starts[before]
            if mode == 'clip':  # keyword fully inside the first clip-length of the sequence
                kpos = r.randint(0, max(0, L - len(kw)))
            elif mode == 'pad':
                kpos = r.randint(0, max(0, 16000 - len(kw)))
            else:  # keyword centre anywhere in the sequence: some are cut by its edges
                kpos = r.randint(-len(kw) // 2, n - len(kw) // 2)
            off = kpos - ks  # sequence sample of seq[0]
            a, b = max(0, off), min(n, off + len(seq))
            if b > a:
                out[a:b] = seq[a - off: b - off]
            if mode == 'pad':
                out[16000:] = 0.0
            active = out[np.abs(out) > 1e-4]
            srms = rms(active) if active.size else 0.0
            return self.finish(out, srms, self.babble(r.randint(1, 4))), (kpos, kpos + len(kw)), e
        if mode == 'noise':
            return self.finish(out, 10 ** (r.uniform(-5, -1)), self.babble(r.randint(0, 5))), None, None
        e = r.choice(self.pool.neg)
        k = 1 if mode == 'neg' else r.randint(2, 7)
        parts = [speed(p, r) * r.uniform(0.4, 1.0) for p in ([self.pool.wav(e)] + self.pool.same_voice_others(e, r, k - 1))]
        seq, _ = self.lay(parts)
        off = r.randint(-len(seq) // 3, max(0, n - 2 * len(seq) // 3)) if mode == 'neg' else r.randint(min(0, n - len(seq)), max(0, n - len(seq)))
        a, b = max(0, off), min(n, off + len(seq))
        if b > a:
            out[a:b] = seq[a - off: b - off]
        active = out[np.abs(out) > 1e-4]
        return self.finish(out, rms(active) if active.size else 0.0, self.babble(r.randint(1, 4))), None, e

    def babble(self, n: int) -> list[np.ndarray]:
        return [self.pool.wav(self.rng.choice(self.pool.entries)) for _ in range(n)]


def write_example(folder: str, name: str, wave: np.ndarray) -> None:
    """A built example as 16-bit WAV, for listening to what training sees."""
    os.makedirs(folder, exist_ok=True)
    wavfile.write(os.path.join(folder, name), RATE, (wave * 32767).astype(np.int16))


def report_progress(prefix: str, j: int, total: int, what: str, t0: float) -> None:
    el = time.time() - t0
    print(f'[build] {prefix}{j + 1}/{total} {what}, {el:.0f}s elapsed, ~{el / (j + 1) * (total - j - 1):.0f}s left', flush=True)


def build(pool: Pool, seed: int, per_keyword: int, n_neg: int, strength: float, examples: str | None,
          snr: tuple[float, float] = (0.0, 30.0)):
    aug = Augmenter(pool, seed, strength, snr)
    r = aug.rng
    jobs: list[tuple[str, int]] = []
    for li, lab in enumerate(vocab.LABELS):
        for i in range(per_keyword):
            jobs.append((r.choices(['kw', 'kwpad', 'kwphrase'], [0.45, 0.2, 0.35])[0], li))
    for i in range(n_neg):
        jobs.append((r.choices(['neg', 'negphrase', 'noise'], [0.5, 0.3, 0.2])[0], -1))
    r.shuffle(jobs)
    xs = np.zeros((len(jobs), features.FRAMES, features.MELS), np.float16)
    ys = np.zeros(len(jobs), np.int16)
    kinds, groups = [], []
    t0 = time.time()
    for j, (mode, li) in enumerate(jobs):
        if li >= 0:
            e = r.choice(pool.kw[vocab.LABELS[li]])
            wave = aug.keyword(e, mode)
            groups.append(vocab.voice_group(e))
        else:
            wave, e = aug.negative(mode)
            groups.append(vocab.voice_group(e) if e else 'noise')
        xs[j] = features.clip_features(wave)
        ys[j] = li
        kinds.append(mode)
        if examples and j < 40:
            write_example(examples, f'{j:03d}_{mode}_{vocab.LABELS[li] if li >= 0 else "none"}.wav', wave)
        if j % 5000 == 0 or j == len(jobs) - 1:
            report_progress('', j, len(jobs), 'clips', t0)
    return xs, ys, np.array(kinds), np.array(groups)


# Per-frame window labels (the stream's windowed head averages the last WINDOW frames):
NEGATIVE, IGNORE, PARTIAL = -1, -2, 100  # PARTIAL + k: keyword k is only partly inside the window
INSIDE = 0.9  # fraction of the keyword's frames inside the window for it to count as heard


def window_labels(li: int, extent: tuple[int, int] | None, frames: int, window: int, last_labelled: int | None = None) -> np.ndarray:
    """Label of the window ending at each frame t (frames max(0, t−window+1)…t): the keyword index
    when (nearly) all of the keyword is inside, PARTIAL + index when only part of it is, NEGATIVE
    when none of it is, IGNORE after `last_labelled`."""
    y = np.full(frames, NEGATIVE, np.int16)
    if extent is not None:
        ks, ke = extent
        f0 = int(np.ceil((ks - 200) / 160))
        f1 = int(np.floor((ke - 1 - 200) / 160))
        klen = max(1, f1 - f0 + 1)
        for t in range(frames):
            w0 = max(0, t - window + 1)
            inside = min(f1, t) - max(f0, w0) + 1
            if inside <= 0:
                continue
            y[t] = li if inside / klen >= INSIDE else PARTIAL + li
    if last_labelled is not None:
        y[last_labelled + 1:] = IGNORE
    return y


def build_sequences(pool: Pool, seed: int, per_keyword: int, n_neg: int, strength: float, frames: int, window: int,
                    snr: tuple[float, float], examples: str | None, shard: int = 0, shards: int = 1):
    aug = Augmenter(pool, seed, strength, snr)
    r = aug.rng
    n = 400 + (frames - 1) * 160
    pad_frames = 1 + (16000 - 400) // 160  # frames of a 1 s clip
    jobs: list[tuple[str, int]] = []
    for li in range(len(vocab.LABELS)):
        for _ in range(per_keyword):
            jobs.append((r.choices(['ctx', 'alone', 'clip', 'pad'], [0.5, 0.15, 0.25, 0.1])[0], li))
    for _ in range(n_neg):
        jobs.append((r.choices(['negctx', 'neg', 'noise'], [0.6, 0.25, 0.15])[0], -1))
    r.shuffle(jobs)
    jobs = jobs[shard::shards]
    aug.rng.seed(seed * 1000 + shard)
    aug.np = np.random.default_rng(seed * 1000 + shard)
    xs = np.zeros((len(jobs), frames, features.MELS), np.float16)
    ys = np.zeros((len(jobs), frames), np.int16)
    kinds, groups = [], []
    pad_value = (0.0 - features.MEAN) / (features.STD * 2)
    t0 = time.time()
    for j, (mode, li) in enumerate(jobs):
        wave, extent, e = aug.sequence(mode, li, n)
        f = features.stream_features(wave)[:frames]
        if mode == 'pad':
            f[pad_frames:] = pad_value
        xs[j] = f
        ys[j] = window_labels(li, extent, frames, window, last_labelled=window - 1 if mode == 'pad' else None)
        kinds.append(mode)
        groups.append(vocab.voice_group(e) if e else 'noise')
        if examples and j < 30:
            write_example(examples, f'{shard}-{j:03d}_{mode}_{vocab.LABELS[li] if li >= 0 else "none"}.wav', wave)
        if j % 2000 == 0 or j == len(jobs) - 1:
            report_progress(f'shard {shard}: ', j, len(jobs), 'sequences', t0)
    return xs, ys, np.array(kinds), np.array(groups)


def build_stream(pool: Pool, seed: int, seconds: float, strength: float, snr: tuple[float, float]) -> tuple[np.ndarray, list[dict]]:
    """A long recording for stream-level evaluation: phrases of one voice each (60 % with one keyword
    inside, among other words of that voice; the rest other words only), with pauses, noise and
    level changes between them. Returns the audio and the keywords spoken, with their times."""
    aug = Augmenter(pool, seed, strength, snr)
    r = aug.rng
    pieces, truth, pos = [], [], 0
    total = int(seconds * RATE)
    while pos < total:
        gap = np.zeros(r.randint(int(0.3 * RATE), int(1.5 * RATE)), np.float32)
        pieces.append(gap)
        pos += len(gap)
        if r.random() < 0.6:
            li = r.randrange(len(vocab.LABELS))
            e = r.choice(pool.kw[vocab.LABELS[li]])
            before, after = r.choice([0, 1, 1, 2, 3]), r.choice([0, 1, 1, 2, 3])
            parts = [speed(p, r) * r.uniform(0.5, 1.0) for p in pool.same_voice_others(e, r, before)]
            parts.append(speed(pool.wav(e), r) * r.uniform(0.6, 1.0))
            parts += [speed(p, r) * r.uniform(0.5, 1.0) for p in pool.same_voice_others(e, r, after)]
            seq, starts = aug.lay(parts, (0.05, 0.25))
            ks, ke = starts[before], starts[before] + len(parts[before])
            truth.append({'label': vocab.LABELS[li], 'start_s': round((pos + ks) / RATE, 3), 'end_s': round((pos + ke) / RATE, 3),
                          'voice': vocab.voice_group(e), 'text': e['text']})
        else:
            e = r.choice(pool.neg)
            parts = [speed(p, r) * r.uniform(0.5, 1.0) for p in [pool.wav(e)] + pool.same_voice_others(e, r, r.randint(1, 5))]
            seq, _ = aug.lay(parts, (0.05, 0.25))
        active = seq[np.abs(seq) > 1e-4]
        seg = aug.finish(seq, rms(active) if active.size else 0.05, aug.babble(r.randint(0, 2)))
        pieces.append(seg)
        pos += len(seg)
    audio = np.concatenate(pieces)
    # a steady background under everything (fan / room noise), well below the speech
    audio = audio + colored_noise(len(audio), r.choice(['pink', 'brown', 'band']), aug.np) * 10 ** (r.uniform(-65, -50) / 20)
    return np.clip(audio, -1, 32767 / 32768).astype(np.float32), truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), 'data'))
    ap.add_argument('--split', choices=['train', 'val', 'test'], required=True, help='which voices (vocab.split_of)')
    ap.add_argument('--sequences', action='store_true', help='continuous-audio sequences with per-frame window labels '
                    '(else 1.28 s clips with one label each)')
    ap.add_argument('--frames', type=int, default=256, help='sequence length in frames')
    ap.add_argument('--window', type=int, default=features.FRAMES, help='frames the windowed head averages over')
    ap.add_argument('--shard', type=int, default=0)
    ap.add_argument('--shards', type=int, default=1)
    ap.add_argument('--seed', type=int, default=2)
    ap.add_argument('--per-keyword', type=int, default=1000)
    ap.add_argument('--negatives', type=int, default=24000)
    ap.add_argument('--strength', type=float, default=None, help='scales the chance of noise, reverb, DC offset, clipping')
    ap.add_argument('--snr', type=float, nargs=2, default=(0.0, 30.0), help='noise SNR range in dB')
    ap.add_argument('--speed', type=float, nargs=2, default=SPEED, help='speed perturbation range')
    ap.add_argument('--stream', type=float, default=0, help='write a long recording of this many seconds (WAV + '
                    'keyword times JSON) for stream-level evaluation instead')
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    SPEED_RANGE[:] = args.speed
    pool = Pool(os.path.join(args.data, 'base'), args.split)
    print(f'[build] {args.split}: {len(pool.entries)} base utterances', flush=True)
    strength = args.strength if args.strength is not None else (1.0 if args.split == 'train' else 0.7)
    if args.stream:
        audio, truth = build_stream(pool, args.seed, args.stream, strength, tuple(args.snr))
        out = args.out or os.path.join(args.data, f'{args.split}-stream.wav')
        wavfile.write(out, RATE, np.round(audio * 32768).clip(-32768, 32767).astype(np.int16))
        with open(out[:-4] + '.json', 'w') as f:
            json.dump({'seconds': round(len(audio) / RATE, 2), 'split': args.split, 'keywords': truth}, f, indent=1)
        print(f'[build] wrote {out}: {len(audio) / RATE:.0f} s, {len(truth)} keywords', flush=True)
        return
    if args.sequences:
        xs, ys, kinds, groups = build_sequences(pool, args.seed, args.per_keyword, args.negatives, strength, args.frames,
                                                args.window, tuple(args.snr), os.path.join(args.data, 'examples', f'{args.split}-seq'),
                                                args.shard, args.shards)
        out = args.out or os.path.join(args.data, f'{args.split}-seq{args.shard if args.shards > 1 else ""}.npz')
    else:
        xs, ys, kinds, groups = build(pool, args.seed, args.per_keyword, args.negatives, strength,
                                      os.path.join(args.data, 'examples', args.split), tuple(args.snr))
        out = args.out or os.path.join(args.data, f'{args.split}.npz')
    np.savez(out, x=xs, y=ys, kind=kinds, group=groups)
    print(f'[build] wrote {out}: {len(ys)} items', flush=True)


if __name__ == '__main__':
    main()
