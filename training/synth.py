"""Step 1: synthesise the base utterances (keywords, non-keywords, carrier words) with espeak-ng,
flite and festival in many voices, rates and pitches. Output: 16 kHz mono WAVs with leading and
trailing silence trimmed, under <data>/base/, and <data>/base/manifest.json describing each one.

Deterministic for a given --seed. Run time about 10 minutes on one core.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

import vocab

RATE = 16000


def read_wav_16k(path: str) -> np.ndarray:
    sr, x = wavfile.read(path)
    x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
    if x.ndim > 1:
        x = x[:, 0]
    if sr != RATE:
        g = np.gcd(sr, RATE)
        x = resample_poly(x, RATE // g, sr // g).astype(np.float32)
    return x


def trim(x: np.ndarray, rel_db: float = -40.0, pad: int = 160) -> np.ndarray:
    """Cut leading/trailing silence: keep from the first to the last 10 ms frame within rel_db of the peak."""
    if x.size == 0:
        return x
    n = len(x) // 160
    if n == 0:
        return x
    e = np.sqrt(np.mean(x[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    on = np.nonzero(20 * np.log10(e / (e.max() + 1e-12)) > rel_db)[0]
    if on.size == 0:
        return x[:0]
    a, b = max(0, on[0] * 160 - pad), min(len(x), (on[-1] + 1) * 160 + pad)
    return x[a:b]


def write_wav(path: str, x: np.ndarray) -> None:
    wavfile.write(path, RATE, np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16))


class Synth:
    def __init__(self, out: str):
        self.out = out
        self.tmp = tempfile.mkdtemp(prefix='kws-synth-')
        self.entries: list[dict] = []

    def _store(self, raw_path: str, meta: dict) -> None:
        x = trim(read_wav_16k(raw_path))
        if len(x) < 800:  # < 50 ms of speech: the engine said nothing useful
            return
        peak = float(np.abs(x).max())
        if peak > 0:
            x = x * (0.5 / peak)
        rel = os.path.join(meta['synth'], meta['cfg'], f"{meta['kind']}__{meta['text'].replace(' ', '_')}.wav")
        os.makedirs(os.path.dirname(os.path.join(self.out, rel)), exist_ok=True)
        write_wav(os.path.join(self.out, rel), x)
        self.entries.append({**meta, 'path': rel, 'samples': len(x)})

    def espeak(self, cfg: str, meta: dict, items: list[tuple[str, str, str]]) -> None:
        voice = meta['voice'] + (f"+{meta['variant']}" if meta['variant'] else '')
        for kind, label, text in items:
            raw = os.path.join(self.tmp, 'e.wav')
            subprocess.run(['espeak-ng', '-v', voice, '-s', str(meta['speed']), '-p', str(meta['pitch']),
                            '-w', raw, text], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._store(raw, {**meta, 'cfg': cfg, 'kind': kind, 'label': label, 'text': text})

    def flite(self, cfg: str, meta: dict, items: list[tuple[str, str, str]]) -> None:
        for kind, label, text in items:
            raw = os.path.join(self.tmp, 'f.wav')
            subprocess.run(['flite', '-voice', meta['voice'], '--setf', f"duration_stretch={meta['stretch']}",
                            '--setf', f"int_f0_target_mean={meta['f0']}", '-t', text, '-o', raw],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._store(raw, {**meta, 'cfg': cfg, 'kind': kind, 'label': label, 'text': text})

    def festival(self, cfg: str, meta: dict, items: list[tuple[str, str, str]]) -> None:
        lines = [f"(voice_{meta['voice']})", f"(Parameter.set 'Duration_Stretch {meta['stretch']})"]
        raws = []
        for i, (_, _, text) in enumerate(items):
            raw = os.path.join(self.tmp, f'fs{i}.wav')
            raws.append(raw)
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{raw}" \'riff)')
        script = os.path.join(self.tmp, 'batch.scm')
        with open(script, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        subprocess.run(['festival', '--batch', script], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for raw, (kind, label, text) in zip(raws, items):
            if os.path.exists(raw):
                self._store(raw, {**meta, 'cfg': cfg, 'kind': kind, 'label': label, 'text': text})
                os.remove(raw)


def items_for(rng: random.Random, heldout: bool, n_neg: int, n_carrier: int) -> list[tuple[str, str, str]]:
    items = [('keyword', w, vocab.SPOKEN.get(w, w)) for w in vocab.LABELS]
    pool = vocab.NEGATIVE_WORDS if heldout else vocab.TRAIN_NEGATIVE_WORDS
    if heldout:  # test negatives: mostly words never trained on, some trained words in new voices
        negs = rng.sample(vocab.HELDOUT_NEGATIVE_WORDS, min(n_neg * 2 // 3, len(vocab.HELDOUT_NEGATIVE_WORDS)))
        negs += rng.sample(vocab.TRAIN_NEGATIVE_WORDS, n_neg - len(negs))
    else:
        negs = rng.sample(pool, n_neg)
    items += [('negative', '_unknown_', w) for w in negs]
    carriers = sorted(set(vocab.CARRIERS_BEFORE + vocab.CARRIERS_AFTER))
    items += [('carrier', '_unknown_', w) for w in rng.sample(carriers, min(n_carrier, len(carriers)))]
    return items


def plan(seed: int, scale: float) -> list[tuple[str, str, dict, list]]:
    """Every voice configuration to synthesise: (synth, cfg id, voice meta, items)."""
    rng = random.Random(seed)
    jobs = []
    train_acc = [a for a in vocab.ESPEAK_ACCENTS if a not in vocab.HELDOUT_ESPEAK_ACCENTS]
    train_var = [v for v in vocab.ESPEAK_VARIANTS if v not in vocab.HELDOUT_ESPEAK_VARIANTS]
    held_var = sorted(vocab.HELDOUT_ESPEAK_VARIANTS)

    def espeak_cfg(i, accent, variant, heldout):
        meta = {'synth': 'espeak-ng', 'voice': accent, 'variant': variant, 'speed': rng.randint(100, 230),
                'pitch': rng.randint(15, 85), 'heldout': heldout}
        n_neg, n_car = (18, 4) if heldout else (28, 8)
        return ('espeak-ng', f'{"test" if heldout else "train"}-{i:04d}', meta, items_for(rng, heldout, n_neg, n_car))

    for i in range(int(220 * scale)):
        jobs.append(espeak_cfg(i, rng.choice(train_acc), rng.choice(train_var), False))
    for i in range(int(44 * scale)):
        if i % 2 == 0:  # held-out accent, any variant
            accent, variant = rng.choice(sorted(vocab.HELDOUT_ESPEAK_ACCENTS)), rng.choice(train_var + held_var)
        else:  # held-out variant on any accent
            accent, variant = rng.choice(vocab.ESPEAK_ACCENTS), rng.choice(held_var)
        jobs.append(espeak_cfg(1000 + i, accent, variant, True))
    for voice in vocab.FLITE_VOICES:
        held = voice in vocab.HELDOUT_FLITE
        for i in range(int((10 if held else 12) * scale)):
            meta = {'synth': 'flite', 'voice': voice, 'stretch': round(rng.uniform(0.75, 1.35), 2),
                    'f0': rng.randint(70, 130) if voice in ('kal', 'kal16', 'awb', 'rms') else rng.randint(140, 230),
                    'heldout': held}
            jobs.append(('flite', f'{voice}-{i:03d}', meta, items_for(rng, held, 18 if held else 28, 8)))
    for voice in vocab.FESTIVAL_VOICES:
        held = voice in vocab.HELDOUT_FESTIVAL
        for i in range(int((10 if held else 12) * scale)):
            meta = {'synth': 'festival', 'voice': voice, 'stretch': round(rng.uniform(0.8, 1.3), 2), 'heldout': held}
            jobs.append(('festival', f'{voice}-{i:03d}', meta, items_for(rng, held, 18 if held else 28, 8)))
    return jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), 'data'))
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--scale', type=float, default=1.0, help='fraction of the voice configurations (for a quick run)')
    args = ap.parse_args()
    out = os.path.join(args.data, 'base')
    os.makedirs(out, exist_ok=True)
    jobs = plan(args.seed, args.scale)
    s = Synth(out)
    t0 = time.time()
    for k, (synth, cfg, meta, items) in enumerate(jobs):
        getattr(s, synth.replace('-ng', ''))(cfg, meta, items)
        if k % 20 == 0 or k == len(jobs) - 1:
            el = time.time() - t0
            print(f'[synth] {k + 1}/{len(jobs)} voice configs, {len(s.entries)} utterances, {el:.0f}s elapsed, '
                  f'~{el / (k + 1) * (len(jobs) - k - 1):.0f}s left', flush=True)
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(s.entries, f)
    print(f'[synth] wrote {len(s.entries)} utterances to {out}', flush=True)


if __name__ == '__main__':
    sys.exit(main())
