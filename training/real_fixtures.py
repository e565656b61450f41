"""Fixtures of real speech from the validation speakers (never trained on; seeded choices):

- models/lmuformer/demo/sample.wav (+ sample.json, the truth): what `npm start` streams — the ten
  commands, each said by another speaker, with two other words among them, 2 s apart, on quiet
  background noise (the validation part of the data set's noise recordings, 25 dB below speech);
- test/fixtures/kws12/<word>/<speaker>_nohash_<n>.flac: a small labelled set for `edgestream eval`
  (three clips of every command (three speakers each), eight of other words, four of silence), the data set's own files;
- test/fixtures/kws12-phrases/phrases-48k.flac (+ .json): eight short phrases of validation speakers
  at 48 kHz, "left" or "right" between two other words of the same speaker (make_phrases.py);
- test/fixtures/kws12-reference/: PyTorch outputs of the shipped kws12 model on some of those clips
  and on the sample stream, for the runtime's conformance test.

    /usr/bin/python3 training/real_fixtures.py
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np
import scipy.io.wavfile
import torch

import features
import speech_commands as sc
import make_phrases
from make_stream import DEFAULT_DATA
from train import window_logits
from verify import load_checkpoint
from wave_augment import word_span

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_ORDER = ['yes', 'no', 'up', 'down', 'bed', 'left', 'right', 'on', 'off', 'happy', 'stop', 'go']
MODELS = {'kws12': 'lmu_rnn_conv1d', 'kws12-spiking': 'slmu_rnn_ms_conv1d'}  # reference outputs of each one trained


def pick(rng: np.random.Generator, clips: list[sc.Clip], n: int, used: set[str]) -> list[sc.Clip]:
    """n clips of distinct speakers not used yet, whose word is clearly audible (a span of ≥ 0.15 s)."""
    out = []
    for i in rng.permutation(len(clips)):
        c = clips[i]
        if c.speaker in used:
            continue
        w = sc.load_audio(c.path)
        if w is None or len(w) < sc.RATE * 0.9:
            continue
        s, e = word_span(w)
        if c.word != sc.SILENCE and (e - s) < 0.15 * sc.RATE:
            continue
        out.append(c)
        used.add(c.speaker)
        if len(out) == n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=DEFAULT_DATA)
    ap.add_argument('--val-percent', type=float, default=15)
    ap.add_argument('--seed', type=int, default=11)
    args = ap.parse_args()
    torch.set_num_threads(1)
    _, val = sc.split(sc.index(args.data), args.val_percent)
    by_word: dict[str, list[sc.Clip]] = {}
    for c in val:
        by_word.setdefault(c.word, []).append(c)
    rng = np.random.default_rng(args.seed)
    used: set[str] = set()

    # the bundled sample
    parts, events, pos = [], [], int(1.5 * sc.RATE)
    sample_clips = [pick(rng, by_word[w], 1, used)[0] for w in SAMPLE_ORDER]
    audio = np.zeros(int((1.5 + 2.0 * len(SAMPLE_ORDER) + 1.5) * sc.RATE), np.float32)
    for c in sample_clips:
        w = sc.load_audio(c.path)
        s, e = word_span(w)
        piece = w[max(0, s - 2000):e + 2000]
        lead = s - max(0, s - 2000)
        piece = piece / (np.abs(piece).max() + 1e-9) * 0.5
        audio[pos:pos + len(piece)] += piece
        events.append({'label': c.word, 'start_ms': round((pos + lead) / 16), 'end_ms': round((pos + lead + e - s) / 16),
                       'speaker': c.speaker, 'file': f'{c.word}/{os.path.basename(c.path)}'})
        pos += 2 * sc.RATE
    noise = sc.noise_parts(sc.load_noise(args.data), 'val')
    bed = noise[int(rng.integers(len(noise)))]
    off = int(rng.integers(0, max(1, len(bed) - len(audio))))
    bed = np.resize(bed[off:off + len(audio)], len(audio)).astype(np.float64)
    speech_rms = float(np.sqrt(np.mean(np.concatenate([audio[e['start_ms'] * 16:e['end_ms'] * 16] for e in events]) ** 2)))
    audio = np.clip(audio + bed / (np.sqrt(np.mean(bed ** 2)) + 1e-12) * speech_rms / 10 ** (25 / 20), -1, 1)
    demo = os.path.join(ROOT, 'models', 'lmuformer', 'demo')
    scipy.io.wavfile.write(os.path.join(demo, 'sample.wav'), sc.RATE, (audio * 32767).astype(np.int16))
    with open(os.path.join(demo, 'sample.json'), 'w') as f:
        json.dump({'seconds': len(audio) / sc.RATE, 'source': 'Speech Commands (Warden 2018, CC BY 4.0), validation speakers', 'events': events}, f, indent=1)
    print(f'[fixtures] sample.wav: {len(audio) / sc.RATE:.1f} s, ' + ' '.join(e['label'] for e in events), flush=True)

    # the labelled clip set
    fx = os.path.join(ROOT, 'test', 'fixtures', 'kws12')
    if os.path.isdir(fx):
        shutil.rmtree(fx)
    chosen = []
    for w in sc.COMMANDS:  # three speakers each (other than the sample's)
        chosen += pick(rng, by_word[w], 3, set(used))
    common = [c for ws in ('bed', 'cat', 'happy') for c in by_word.get(ws, [])]
    rare = [c for ws, cs in by_word.items() if ws not in sc.COMMANDS and ws not in ('bed', 'cat', 'happy', sc.SILENCE) for c in cs]
    chosen += pick(rng, common, 4, set(used)) + pick(rng, rare, 4, set(used))  # other words, frequent and rare
    chosen += pick(rng, by_word[sc.SILENCE], 4, set())
    for c in chosen:
        os.makedirs(os.path.join(fx, c.word), exist_ok=True)
        shutil.copyfile(c.path, os.path.join(fx, c.word, os.path.basename(c.path)))
    with open(os.path.join(fx, 'SOURCE.md'), 'w') as f:
        f.write('Real recordings from the Speech Commands data set (Pete Warden, Google; CC BY 4.0,\n'
                'https://creativecommons.org/licenses/by/4.0/; Warden P., "Speech Commands: A Dataset for\n'
                'Limited-Vocabulary Speech Recognition", arXiv:1804.03209, 2018), unmodified FLAC files of\n'
                'speakers in training/run.sh\'s validation split (never trained on). Chosen by\n'
                'training/real_fixtures.py (seeded).\n')
    print(f'[fixtures] test/fixtures/kws12: {len(chosen)} clips', flush=True)

    # short phrases at 48 kHz (their own seeded choices: the picks above stay as they were)
    noise_val = sc.noise_parts(sc.load_noise(args.data), 'val')
    phrases, phrase_events = make_phrases.build(val, 8, np.random.default_rng(args.seed + 1), noise_val)
    make_phrases.write(os.path.join(ROOT, 'test', 'fixtures', 'kws12-phrases', 'phrases-48k.flac'), phrases, phrase_events,
                       'Speech Commands (Warden 2018, CC BY 4.0), validation speakers; built by training/make_phrases.py')
    print(f'[fixtures] test/fixtures/kws12-phrases: {len(phrase_events) // 3} phrases at 48 kHz', flush=True)

    # PyTorch reference outputs of the shipped models
    ref = os.path.join(ROOT, 'test', 'fixtures', 'kws12-reference')
    os.makedirs(ref, exist_ok=True)
    ref_clips = [c for c in chosen if c.word in ('yes', 'left', 'stop')][:3] + [c for c in chosen if c.word not in sc.COMMANDS][:2]
    x = np.stack([features.clip_features(sc.load_audio(c.path)) for c in ref_clips]).astype(np.float32)
    xs = features.stream_features(audio.astype(np.float32)).astype(np.float32)
    np.save(os.path.join(ref, 'input.npy'), x)
    np.save(os.path.join(ref, 'stream_input.npy'), xs)
    meta = {'clips': [f'{c.word}/{os.path.basename(c.path)}' for c in ref_clips], 'stream': 'models/lmuformer/demo/sample.wav', 'window': 128, 'outputs': {}}
    for name, variant in MODELS.items():
        ck = os.path.join(ROOT, 'training', 'runs', name, 'best_model.pth')
        if not os.path.exists(ck):
            print(f'[fixtures] {ck} missing: no reference outputs for {name}', flush=True)
            continue
        model = load_checkpoint(ck, variant)
        with torch.no_grad():
            np.save(os.path.join(ref, f'{name}.all_seq.npy'), model.all_seq(torch.from_numpy(x)).numpy())
            np.save(os.path.join(ref, f'{name}.windowed.npy'), window_logits(model, torch.from_numpy(xs[None]), 128, 0)[0].numpy())
        meta['outputs'][name] = {'variant': variant, 'all_seq': f'{name}.all_seq.npy [frames, clips, 12]', 'windowed': f'{name}.windowed.npy [frames, 12]'}
    with open(os.path.join(ref, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)


if __name__ == '__main__':
    main()
