"""Step 5: the audio fixtures the rest of the project uses, spoken only by held-out voices (never
trained on): models/lmuformer/demo/sample.wav (what `npm start` streams), test/fixtures/kws/ (one
clip per keyword, non-keywords, silence/noise: `<label>__<id>.wav`) and test/fixtures/kws-phrases/
(longer phrases with a keyword inside, keyword times in phrases.json). 16 kHz mono s16 WAV.

Keyword times inside naturally synthesised sentences are estimated by synthesising the sentence up
to the keyword (end of speech = keyword start) and up to and including it (= keyword end); they are
accurate to about ±0.1 s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
from scipy.io import wavfile

import vocab
from synth import read_wav_16k, trim

RATE = 16000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMP = tempfile.mkdtemp(prefix='kws-fixtures-')

# Held-out voices only (see vocab.HELDOUT_*).
VOICES = {
    'rms': ('flite', 'rms'),
    'ked': ('festival', 'ked_diphone'),
    'caribbean-f': ('espeak-ng', 'en-029+f4'),
    'midlands-m': ('espeak-ng', 'en-gb-x-gbcwmd+m7'),
    'us-klatt3': ('espeak-ng', 'en-us+klatt3'),
}


def say(voice: str, text: str) -> np.ndarray:
    synth, v = VOICES[voice]
    raw = os.path.join(TMP, 'say.wav')
    if synth == 'flite':
        subprocess.run(['flite', '-voice', v, '-t', text, '-o', raw], check=True, stderr=subprocess.DEVNULL)
    elif synth == 'festival':
        scm = os.path.join(TMP, 'say.scm')
        with open(scm, 'w') as f:
            f.write(f'(voice_{v})\n(utt.save.wave (utt.synth (Utterance Text "{text}")) "{raw}" \'riff)\n')
        subprocess.run(['festival', '--batch', scm], check=True, stderr=subprocess.DEVNULL)
    else:
        subprocess.run(['espeak-ng', '-v', v, '-s', '150', '-w', raw, text], check=True, stderr=subprocess.DEVNULL)
    return read_wav_16k(raw)


def bounds(x: np.ndarray, rel_db: float = -40.0) -> tuple[int, int]:
    """First and last sample of speech: 10 ms frames within rel_db of the loudest frame."""
    n = len(x) // 160
    e = np.sqrt(np.mean(x[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    on = np.nonzero(20 * np.log10(e / e.max()) > rel_db)[0]
    return int(on[0] * 160), int((on[-1] + 1) * 160)


def sentence(voice: str, before: str, keyword: str, after: str) -> tuple[np.ndarray, float, float]:
    """Synthesise 'before keyword after' in one go; estimate the keyword's start and end (seconds)."""
    a, b = bounds(say(voice, f'{before} {keyword} {after}'.strip()))
    full = say(voice, f'{before} {keyword} {after}'.strip())[a:b]
    if not keyword:
        return full, 0.0, 0.0
    kw_start = 0
    if before:
        p0, p1 = bounds(say(voice, before))
        kw_start = p1 - p0
    u0, u1 = bounds(say(voice, f'{before} {keyword}'.strip()))
    return full, kw_start / RATE, min(u1 - u0, len(full)) / RATE


def level(x: np.ndarray, peak_db: float = -3.0) -> np.ndarray:
    return x * (10 ** (peak_db / 20) / (np.abs(x).max() + 1e-9))


def write(path: str, x: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    wavfile.write(path, RATE, np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def compose(parts: list, noise_db: float, seed: int) -> tuple[np.ndarray, list[dict]]:
    """parts: ('pause', seconds) or (voice, before, keyword, after). Returns audio and keyword events."""
    audio, events = [], []
    pos = 0
    for p in parts:
        if p[0] == 'pause':
            x = silence(p[1])
        else:
            voice, before, kw, after = p
            x, s, e = sentence(voice, before, kw, after)
            x = level(x, -6.0)
            if kw:
                events.append({'label': kw, 'start_s': round((pos + s * RATE) / RATE, 2), 'end_s': round((pos + e * RATE) / RATE, 2),
                               'voice': ' '.join(VOICES[voice]), 'text': f'{before} {kw} {after}'.strip()})
        audio.append(x)
        pos += len(x)
    y = np.concatenate(audio)
    rng = np.random.default_rng(seed)
    y = y + rng.standard_normal(len(y)).astype(np.float32) * (10 ** (noise_db / 20))
    return y.astype(np.float32), events


def one_second(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Speech Commands-style 1 s clip with the word at a random position (centred if longer)."""
    x = trim(x)
    out = np.zeros(RATE, np.float32)
    if len(x) >= RATE:
        a = (len(x) - RATE) // 2
        return x[a:a + RATE]
    off = int(rng.integers(0, RATE - len(x) + 1))
    out[off:off + len(x)] = x
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--root', default=ROOT)
    args = ap.parse_args()
    rng = np.random.default_rng(7)

    # 1. the bundled sample's last part: keywords inside longer phrases, with pauses (the two
    #    phrases of section 3 go before it; the sample is written there)
    parts = [('pause', 0.6), ('ked', 'well I think the answer is', 'yes', 'of course'), ('pause', 1.2),
             ('rms', 'please', 'stop', 'the music'), ('pause', 1.2),
             ('caribbean-f', 'okay let us', 'go', 'home now'), ('pause', 0.8)]
    tail, tail_ev = compose(parts, -60.0, 1)

    # 2. one clip per keyword, alternating held-out voices; non-keywords; silence and noise
    kdir = os.path.join(args.root, 'test', 'fixtures', 'kws')
    os.makedirs(kdir, exist_ok=True)
    for f in os.listdir(kdir):
        if f.endswith('.wav'):
            os.remove(os.path.join(kdir, f))
    voices = ['rms', 'ked', 'caribbean-f', 'midlands-m', 'us-klatt3']
    clips = []
    for i, lab in enumerate(vocab.LABELS):
        v = voices[i % len(voices)]
        x = level(one_second(say(v, vocab.SPOKEN.get(lab, lab)), rng), float(rng.uniform(-12, -3)))
        name = f'{lab}__{v}.wav'
        write(os.path.join(kdir, name), x)
        clips.append({'file': name, 'label': lab, 'voice': ' '.join(VOICES[v])})
    neg_words = vocab.HELDOUT_NEGATIVE_WORDS[::4][:14]
    for i, w in enumerate(neg_words):
        v = voices[i % len(voices)]
        x = level(one_second(say(v, w), rng), float(rng.uniform(-12, -3)))
        name = f'_unknown___{w.replace(" ", "-")}-{v}.wav'
        write(os.path.join(kdir, name), x)
        clips.append({'file': name, 'label': '_unknown_', 'text': w, 'voice': ' '.join(VOICES[v])})
    n = RATE
    t = np.arange(n) / RATE
    noises = {
        'digital-silence': np.zeros(n, np.float32),
        'white-40db': rng.standard_normal(n).astype(np.float32) * 0.01,
        'pink-30db': np.cumsum(rng.standard_normal(n)).astype(np.float32) * 0.0005,
        'hum-50hz': (0.05 * np.sin(2 * np.pi * 50 * t) + 0.02 * np.sin(2 * np.pi * 150 * t)).astype(np.float32),
        'dc-offset': np.full(n, 0.2, np.float32) + rng.standard_normal(n).astype(np.float32) * 0.001,
        'clipped-noise': np.clip(rng.standard_normal(n).astype(np.float32) * 2.0, -1, 1) * 0.99,
    }
    for k, x in noises.items():
        name = f'_silence___{k}.wav'
        write(os.path.join(kdir, name), x)
        clips.append({'file': name, 'label': '_silence_'})
    with open(os.path.join(kdir, 'labels.json'), 'w') as f:
        json.dump({'about': 'Held-out voices only (never in the demo model training data); see training/README.md',
                   'clips': clips}, f, indent=1)

    # 3. longer phrases with a keyword inside (for `listen`)
    pdir = os.path.join(args.root, 'test', 'fixtures', 'kws-phrases')
    phrases = {
        'phrase-left.wav': [('pause', 0.5), ('midlands-m', 'could you please turn', 'left', 'at the next corner'), ('pause', 0.5)],
        'phrase-seven.wav': [('pause', 0.5), ('rms', 'the meeting is at', 'seven', 'in the evening'), ('pause', 0.5)],
        'phrase-none.wav': [('pause', 0.5), ('ked', 'this sentence has nothing in it', '', ''), ('pause', 0.5)],
    }
    pmeta = {}
    paudio = {}
    for name, parts in phrases.items():
        y, ev = compose(parts, -55.0, 2)
        write(os.path.join(pdir, name), y)
        pmeta[name] = {'seconds': round(len(y) / RATE, 2), 'keywords': ev}
        paudio[name] = y

    # The bundled sample (what `npm start` streams): "left" and "seven" phrases, then yes/stop/go.
    # A stream's first second is held back by the detector's warm-up, so nothing is said in it.
    pieces = [(paudio['phrase-left.wav'], pmeta['phrase-left.wav']['keywords']),
              (paudio['phrase-seven.wav'], pmeta['phrase-seven.wav']['keywords']), (tail, tail_ev)]
    y = np.concatenate([a for a, _ in pieces])
    ev, offset = [], 0.0
    for a, events in pieces:
        ev += [{**e, 'start_s': round(e['start_s'] + offset, 2), 'end_s': round(e['end_s'] + offset, 2)} for e in events]
        offset += len(a) / RATE
    write(os.path.join(args.root, 'models', 'lmuformer', 'demo', 'sample.wav'), y)
    meta = {'sample.wav': {'seconds': round(len(y) / RATE, 2), 'keywords': ev}}
    with open(os.path.join(pdir, 'phrases.json'), 'w') as f:
        json.dump({'about': 'Keyword times are estimates (±0.1 s); held-out voices; see training/README.md', **pmeta}, f, indent=1)
    meta.update(pmeta)
    print(json.dumps(meta, indent=1))


if __name__ == '__main__':
    main()
