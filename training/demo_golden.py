"""Reference outputs of the shipped demo models for the runtime's tests: features (torchaudio, the
official front end) of a few held-out fixture clips and this PyTorch model's eval-mode all_seq
outputs, written to test/fixtures/kws-demo/. The runtime must reproduce them (spike ties aside)."""
from __future__ import annotations

import json
import os

import numpy as np
import torch

import features
from synth import read_wav_16k
from verify import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS = ['yes__midlands-m.wav', 'stop__ked.wav', 'seven__midlands-m.wav', '_unknown___music-caribbean-f.wav',
         '_silence___hum-50hz.wav']
MODELS = {'kws35-spiking': 'slmu_rnn_ms_conv1d', 'kws35': 'lmu_rnn_conv1d'}


def main() -> None:
    torch.set_num_threads(1)
    out = os.path.join(ROOT, 'test', 'fixtures', 'kws-demo')
    os.makedirs(out, exist_ok=True)
    x = np.stack([features.clip_features(read_wav_16k(os.path.join(ROOT, 'test', 'fixtures', 'kws', c))) for c in CLIPS])
    np.save(os.path.join(out, 'input.npy'), x.astype(np.float32))
    meta = {'clips': CLIPS, 'input': 'input.npy [clips, 128, 128]: torchaudio kaldi.fbank, padded to 128 frames, normalised',
            'outputs': {}}
    for name, variant in MODELS.items():
        ckpt = os.path.join(os.path.dirname(__file__), 'runs', name, 'best_model.pth')
        if not os.path.exists(ckpt):
            continue
        model = load_checkpoint(ckpt, variant)
        with torch.no_grad():
            y = model.all_seq(torch.from_numpy(x)).numpy()
        np.save(os.path.join(out, f'{name}.all_seq.npy'), y.astype(np.float32))
        meta['outputs'][name] = {'file': f'{name}.all_seq.npy', 'variant': variant, 'model': f'models/lmuformer/demo/{name}.safetensors'}
    with open(os.path.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == '__main__':
    main()
