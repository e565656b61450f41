"""Short phrases of real people with "left" or "right" inside, recorded at 48 kHz, with a truth file.

Speech Commands has single words only, so a phrase is built from one speaker's own recordings: another
word, the command, another word, each trimmed to its spoken part, 0.1–0.3 s apart (closer than the
stream of make_stream.py, as words in a sentence are), peak-normalised, on quiet noise (30 dB below the
speech), then resampled to 48 kHz (a browser microphone's or a USB sound card's rate), so that the front
end's resampling is part of what is measured. Phrases follow each other 2 s apart in one recording.
The truth file lists every word (format of `edgestream eval <model> <audio> --truth <json>`).

    /usr/bin/python3 training/make_phrases.py --out training/data/real/val-phrases-48k.wav
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import scipy.io.wavfile
import scipy.signal

import speech_commands as sc
from make_stream import DEFAULT_DATA
from wave_augment import word_span

COMMANDS = ('left', 'right')
OUT_RATE = 48000


def speakers_with_phrases(clips: list[sc.Clip]) -> dict[str, tuple[list[sc.Clip], list[sc.Clip]]]:
    """Speakers who recorded left or right and at least one word that is not a command."""
    by: dict[str, tuple[list[sc.Clip], list[sc.Clip]]] = {}
    for c in clips:
        if c.word == sc.SILENCE:
            continue
        kw, other = by.setdefault(c.speaker, ([], []))
        if c.word in COMMANDS:
            kw.append(c)
        elif c.word not in sc.COMMANDS:
            other.append(c)
    return {s: v for s, v in by.items() if v[0] and v[1]}


def spoken(c: sc.Clip) -> np.ndarray | None:
    w = sc.load_audio(c.path)
    if w is None:
        return None
    s, e = word_span(w)
    if e - s < 0.15 * sc.RATE:  # too little voice to count as a word
        return None
    p = w[s:e]
    return p / (np.abs(p).max() + 1e-9) * 0.5


def build(clips: list[sc.Clip], n: int, rng: np.random.Generator, noise: list[np.ndarray],
          exclude: set[str] = frozenset()) -> tuple[np.ndarray, list[dict]]:
    """Up to n phrases (alternately with left and right where a speaker has both), 16 kHz."""
    speakers = speakers_with_phrases(clips)
    order = [s for s in sorted(speakers) if s not in exclude]
    order = [order[i] for i in rng.permutation(len(order))]
    parts, events, pos = [np.zeros(sc.RATE, np.float32)], [], sc.RATE
    for spk in order:
        if len(events) // 3 == n:
            break
        kws, others = speakers[spk]
        want = COMMANDS[(len(events) // 3) % 2]
        kw = [c for c in kws if c.word == want] or kws
        words = [others[int(rng.integers(len(others)))], kw[int(rng.integers(len(kw)))], others[int(rng.integers(len(others)))]]
        pieces = [spoken(c) for c in words]
        if any(p is None for p in pieces):
            continue
        for c, p in zip(words, pieces):
            events.append({'label': c.word, 'start_ms': round(pos / sc.RATE * 1000), 'end_ms': round((pos + len(p)) / sc.RATE * 1000),
                           'speaker': spk, 'file': f'{c.word}/{os.path.basename(c.path)}'})
            gap = int(rng.uniform(0.1, 0.3) * sc.RATE)
            parts += [p.astype(np.float32), np.zeros(gap, np.float32)]
            pos += len(p) + gap
        parts.append(np.zeros(2 * sc.RATE, np.float32))
        pos += 2 * sc.RATE
    speech = np.concatenate(parts)
    words = np.concatenate([speech[e['start_ms'] * 16:e['end_ms'] * 16] for e in events])
    bed = noise[int(rng.integers(len(noise)))]
    off = int(rng.integers(0, max(1, len(bed) - len(speech))))
    bed = np.resize(bed[off:off + len(speech)], len(speech)).astype(np.float64)
    level = np.sqrt(np.mean(words.astype(np.float64) ** 2)) / 10 ** (30 / 20)
    audio = np.clip(speech + bed / (np.sqrt(np.mean(bed ** 2)) + 1e-12) * level, -1, 1).astype(np.float32)
    return audio, events


def write(path: str, audio16k: np.ndarray, events: list[dict], source: str) -> None:
    """A 48 kHz 16-bit WAV (or FLAC, through sox, when the name ends in .flac) and its truth file."""
    a48 = np.clip(scipy.signal.resample_poly(audio16k, OUT_RATE // sc.RATE, 1), -1, 1)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    wav = path if path.endswith('.wav') else os.path.splitext(path)[0] + '.tmp.wav'
    scipy.io.wavfile.write(wav, OUT_RATE, (a48 * 32767).astype(np.int16))
    if wav != path:
        import subprocess
        subprocess.run(['sox', wav, path], check=True)
        os.remove(wav)
    with open(os.path.splitext(path)[0] + '.json', 'w') as f:
        json.dump({'seconds': len(audio16k) / sc.RATE, 'rate': OUT_RATE, 'source': source, 'events': events}, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=DEFAULT_DATA)
    ap.add_argument('--split', choices=['train', 'val', 'all'], default='val', help='whose speakers speak (all: every clip in --data, e.g. a folder of held-out speakers)')
    ap.add_argument('--val-percent', type=float, default=15)
    ap.add_argument('--n', type=int, default=1000, help='at most this many phrases (one per speaker)')
    ap.add_argument('--seed', type=int, default=3)
    ap.add_argument('--out', required=True, help='.wav or .flac (the truth goes next to it as .json)')
    args = ap.parse_args()
    clips = sc.index(args.data)
    if args.split != 'all':
        train, val = sc.split(clips, args.val_percent)
        clips = val if args.split == 'val' else train
    noise = sc.noise_parts(sc.load_noise(args.data), 'train' if args.split == 'train' else 'val')
    audio, events = build(clips, args.n, np.random.default_rng(args.seed), noise)
    write(args.out, audio, events, f'Speech Commands (Warden 2018, CC BY 4.0), {args.split} speakers')
    print(f'[phrases] {args.out}: {len(events) // 3} phrases, {len(audio) / sc.RATE:.0f} s at {OUT_RATE} Hz', flush=True)


if __name__ == '__main__':
    main()
