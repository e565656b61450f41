"""Step 4a: the decision threshold stored in a shipped model: the lowest score threshold that
accepts at most --val-fa of the validation voices' non-keyword clips (whole-clip output). Unlike
the threshold train.py logs for model selection (floored at 0.3), this one is not clamped: a model
whose scores stay low (the spiking one) gets the threshold its scores need. Prints the threshold."""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from train import pick_threshold, predict
from verify import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--variant', required=True)
    ap.add_argument('--val-clips', default=os.path.join(os.path.dirname(__file__), 'data', 'val.npz'))
    ap.add_argument('--val-fa', type=float, default=0.03)
    args = ap.parse_args()
    torch.set_num_threads(1)
    d = np.load(args.val_clips)
    x, y = d['x'], d['y'].astype(np.int64)
    with torch.no_grad():
        scores = predict(load_checkpoint(args.checkpoint, args.variant), x)
    print(f'{pick_threshold(scores, y, args.val_fa, lo=0.0, hi=1.0):.3f}')


if __name__ == '__main__':
    main()
