"""Reference outputs of the shipped demo models for the runtime's tests, written to
test/fixtures/kws-demo/:
  - features (torchaudio, the official front end) of a few held-out fixture clips and this PyTorch
    model's eval-mode all_seq outputs (the official cumulative-mean head);
  - the features of a whole phrase recording (a stream, no padding) and the outputs of the windowed
    head (mean over the last 128 frames, as `createSession({ headWindow: 128 })`) at every frame.
The runtime must reproduce them (spike ties aside)."""
from __future__ import annotations

import json
import os

import numpy as np
import torch

import features
from synth import read_wav_16k
from train import window_logits
from verify import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS = ['yes__midlands-m.wav', 'stop__ked.wav', 'seven__midlands-m.wav', '_unknown___music-caribbean-f.wav',
         '_silence___hum-50hz.wav']
STREAM = 'phrase-left.wav'  # test/fixtures/kws-phrases
WINDOW = 128
MODELS = {'kws35-spiking': 'slmu_rnn_ms_conv1d', 'kws35': 'lmu_rnn_conv1d'}


def main() -> None:
    torch.set_num_threads(1)
    out = os.path.join(ROOT, 'test', 'fixtures', 'kws-demo')
    os.makedirs(out, exist_ok=True)
    x = np.stack([features.clip_features(read_wav_16k(os.path.join(ROOT, 'test', 'fixtures', 'kws', c))) for c in CLIPS])
    np.save(os.path.join(out, 'input.npy'), x.astype(np.float32))
    xs = features.stream_features(read_wav_16k(os.path.join(ROOT, 'test', 'fixtures', 'kws-phrases', STREAM)))
    np.save(os.path.join(out, 'stream_input.npy'), xs.astype(np.float32))
    meta = {'clips': CLIPS, 'input': 'input.npy [clips, 128, 128]: torchaudio kaldi.fbank, padded to 128 frames, normalised',
            'stream': f'test/fixtures/kws-phrases/{STREAM}', 'window': WINDOW,
            'stream_input': 'stream_input.npy [frames, 128]: torchaudio kaldi.fbank of the whole recording, normalised',
            'outputs': {}}
    for name, variant in MODELS.items():
        ckpt = os.path.join(os.path.dirname(__file__), 'runs', name, 'best_model.pth')
        if not os.path.exists(ckpt):
            continue
        model = load_checkpoint(ckpt, variant)
        with torch.no_grad():
            y = model.all_seq(torch.from_numpy(x)).numpy()
            w = window_logits(model, torch.from_numpy(xs[None]), WINDOW, 0)[0].numpy()
        np.save(os.path.join(out, f'{name}.all_seq.npy'), y.astype(np.float32))
        np.save(os.path.join(out, f'{name}.windowed.npy'), w.astype(np.float32))
        meta['outputs'][name] = {'file': f'{name}.all_seq.npy', 'windowed': f'{name}.windowed.npy [frames, classes]',
                                 'variant': variant, 'model': f'models/lmuformer/demo/{name}.safetensors'}
    with open(os.path.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == '__main__':
    main()
