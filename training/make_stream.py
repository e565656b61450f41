"""Build a continuous noisy recording from real clips, with a truth file, for stream evaluation.

Words of one split's speakers (commands and other words) follow each other 1.2–2.5 s apart (onset
to onset), each trimmed to the spoken part, on a bed of background noise (the split's part of each
noise recording) at 10–20 dB SNR against the speech. The truth file lists every word with its start
and end (the spoken part, from the clip's energy): the format `edgestream eval <model> <wav>
--truth <json>` reads.

    /usr/bin/python3 training/make_stream.py --split val --minutes 10 --out training/data/val-stream.wav
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import scipy.io.wavfile

import speech_commands as sc
from wave_augment import word_span

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'data', 'speech-commands')


def build(clips, waves, noise: list[np.ndarray], minutes: float, rng: np.random.Generator, command_share: float,
          gap: tuple[float, float], snr: tuple[float, float]) -> tuple[np.ndarray, list[dict]]:
    n = int(minutes * 60 * sc.RATE)
    speech = np.zeros(n, np.float32)
    commands = [i for i, c in enumerate(clips) if c.word in sc.COMMANDS]
    others = [i for i, c in enumerate(clips) if c.word not in sc.COMMANDS and c.word != sc.SILENCE]
    events = []
    pos = int(rng.uniform(1.5, 2.5) * sc.RATE)
    while True:
        pick = commands if rng.random() < command_share or not others else others
        i = pick[int(rng.integers(len(pick)))]
        w = waves[i]
        s, e = word_span(w)
        if e - s < 800:  # a nearly silent clip: no word to place
            continue
        piece = w[max(0, s - 1600):e + 1600]
        lead = s - max(0, s - 1600)
        if pos + len(piece) >= n - sc.RATE:
            break
        gain = 10 ** (rng.uniform(-12, 0) / 20) / (np.abs(piece).max() + 1e-9) * 0.5  # speakers at different levels
        speech[pos:pos + len(piece)] += piece * gain
        start = pos + lead
        events.append({'label': clips[i].word, 'start_ms': round(start / sc.RATE * 1000), 'end_ms': round((start + e - s) / sc.RATE * 1000),
                       'speaker': clips[i].speaker, 'file': os.path.relpath(clips[i].path, os.path.dirname(os.path.dirname(clips[i].path)))})
        pos = start + int(rng.uniform(*gap) * sc.RATE) - lead
    # noise: pieces of the split's noise recordings, one after another, each at its own SNR
    words = np.concatenate([speech[int(ev['start_ms'] * 16):int(ev['end_ms'] * 16)] for ev in events])
    speech_rms = float(np.sqrt((words.astype(np.float64) ** 2).mean()))
    bed = np.zeros(n, np.float32)
    at = 0
    while at < n:
        src = noise[int(rng.integers(len(noise)))]
        length = min(n - at, int(rng.uniform(5, 20) * sc.RATE), len(src))
        off = int(rng.integers(0, len(src) - length + 1))
        piece = src[off:off + length].astype(np.float64)
        rms = float(np.sqrt((piece ** 2).mean())) + 1e-12
        level = speech_rms / 10 ** (rng.uniform(*snr) / 20)
        fade = np.minimum(1, np.minimum(np.arange(length), np.arange(length)[::-1]) / 800)  # no clicks between pieces
        bed[at:at + length] += (piece / rms * level * fade).astype(np.float32)
        at += length
    audio = np.clip(speech + bed, -1, 1)
    return audio, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=DEFAULT_DATA)
    ap.add_argument('--split', choices=['train', 'val', 'all'], default='val', help='whose speakers speak (all: every clip in --data)')
    ap.add_argument('--val-percent', type=float, default=15)
    ap.add_argument('--minutes', type=float, default=10)
    ap.add_argument('--command-share', type=float, default=0.6)
    ap.add_argument('--gap', type=float, nargs=2, default=(1.2, 2.5), help='seconds from one word onset to the next')
    ap.add_argument('--snr', type=float, nargs=2, default=(10, 20), help='dB of speech over noise')
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--out', required=True, help='the .wav to write (the truth goes next to it as .json)')
    args = ap.parse_args()
    clips = sc.index(args.data)
    if args.split != 'all':
        train, val = sc.split(clips, args.val_percent)
        clips = train if args.split == 'train' else val
    clips, waves = sc.load_waves(clips)
    noise = sc.noise_parts(sc.load_noise(args.data), 'train' if args.split == 'train' else 'val')
    if not noise:
        raise SystemExit(f'make_stream: no background noise recordings under {args.data}/{sc.NOISE_DIR}')
    rng = np.random.default_rng(args.seed)
    audio, events = build(clips, waves, noise, args.minutes, rng, args.command_share, tuple(args.gap), tuple(args.snr))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    scipy.io.wavfile.write(args.out, sc.RATE, (audio * 32767).astype(np.int16))
    truth = {'seconds': len(audio) / sc.RATE, 'snr_db': list(args.snr), 'gap_s': list(args.gap), 'split': args.split,
             'source': 'Speech Commands (Warden 2018, CC BY 4.0)', 'events': events}
    with open(os.path.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(truth, f, indent=1)
    n_cmd = sum(e['label'] in sc.COMMANDS for e in events)
    print(f'[stream] {args.out}: {len(audio) / sc.RATE / 60:.1f} min, {n_cmd} commands and {len(events) - n_cmd} other words '
          f'from {len({e["speaker"] for e in events})} speakers', flush=True)


if __name__ == '__main__':
    main()
