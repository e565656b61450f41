"""Check the shipped model file against this PyTorch implementation: `edgestream predict` on the
features of some clips must reproduce the PyTorch eval-mode all_seq outputs (per-frame logits of
the cumulative-mean head). Spiking models may differ where a membrane lands within float rounding
of its threshold (a spike tie), so the report gives the fraction of frames within tolerance too."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from collections import OrderedDict

import numpy as np
import torch

import vocab
from model import LmuFormer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, 'dist', 'cli', 'main.js')


def load_checkpoint(path: str, variant: str) -> LmuFormer:
    sd = torch.load(path, map_location='cpu')
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in sd.items())
    dim = sd['head.weight'].shape[1]
    depths = 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('block.'))
    model = LmuFormer(variant, dim, classes=sd['head.weight'].shape[0], depths=depths)
    model.load_state_dict(sd)
    return model.eval()


def runtime_predict(model_file: str, x: np.ndarray, backend: str = 'js') -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, 'in.npy'), os.path.join(tmp, 'out.npy')
        np.save(inp, x.astype(np.float32))
        subprocess.run(['node', CLI, 'predict', model_file, '--features', inp, '--out', out, '--backend', backend],
                       check=True, stdout=subprocess.DEVNULL)
        return np.load(out)  # [frames, batch, classes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--model', required=True, help='the imported .safetensors')
    ap.add_argument('--variant', required=True)
    ap.add_argument('--features', default=os.path.join(os.path.dirname(__file__), 'data', 'test.npz'))
    ap.add_argument('--clips', default=None, help='instead of --features: a folder of audio clips (<word>/<file>.wav|flac)')
    ap.add_argument('--n', type=int, default=32)
    ap.add_argument('--tol', type=float, default=1e-4)
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    if args.clips:
        import features
        import speech_commands as sc
        files = sorted(os.path.join(r, f) for r, _, fs in os.walk(args.clips) for f in fs if f.lower().endswith(sc.AUDIO_EXT))
        idx = np.sort(rng.choice(len(files), size=min(args.n, len(files)), replace=False))
        x = np.stack([features.clip_features(sc.load_audio(files[i])) for i in idx]).astype(np.float32)
    else:
        d = np.load(args.features)
        idx = np.sort(rng.choice(len(d['y']), size=min(args.n, len(d['y'])), replace=False))
        x = d['x'][idx].astype(np.float32)
    model = load_checkpoint(args.checkpoint, args.variant)
    with torch.no_grad():
        ref = model.all_seq(torch.from_numpy(x)).numpy()
    got = runtime_predict(args.model, x)
    err = np.abs(got - ref)  # [frames, batch, classes]
    frame_err = err.max(axis=2)
    report = {
        'clips': len(idx), 'frames': int(frame_err.size),
        'max_abs_error': float(err.max()),
        'median_frame_max_error': float(np.median(frame_err)),
        'frames_within_tol': float((frame_err <= args.tol).mean()), 'tol': args.tol,
        'final_argmax_agreement': float((got[-1].argmax(1) == ref[-1].argmax(1)).mean()),
        'all_frames_argmax_agreement': float((got.argmax(2) == ref.argmax(2)).mean()),
    }
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
