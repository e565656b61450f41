"""Check this PyTorch LMUFormer against the golden vectors of the official code (../shared/golden/
lmuformer): load each model.pth, run eval-mode all_seq on input.npy, compare with all_seq.npy; and
compare the A, B, H buffers this code computes with the ones in the official checkpoint."""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch

from model import LmuFormer, VARIANTS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('golden', nargs='?', default=os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'golden', 'lmuformer'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    worst = 0.0
    sets = sorted(glob.glob(os.path.join(args.golden, '*', 'meta.json')))
    if not sets:
        print(f'no golden sets under {args.golden}')
        return 2
    for meta_path in sets:
        d = os.path.dirname(meta_path)
        meta = json.load(open(meta_path))
        if meta['variant'] not in VARIANTS:
            print(f'{os.path.basename(d)}: {meta["variant"]} not implemented here, skipped')
            continue
        sd = OrderedDict((k[len('module.'):], v) for k, v in torch.load(os.path.join(d, 'model.pth'), map_location='cpu').items())
        fresh = LmuFormer(meta['variant'], meta['dim'], depths=meta['depths'], mlp_ratio=meta['mlp_ratio'])
        buf = dict(fresh.named_buffers())
        buf_err = max(float((buf[k] - sd[k]).abs().max()) for k in buf if k.split('.')[-1] in ('A', 'B', 'H'))
        fresh.load_state_dict(sd)
        fresh.eval()
        with torch.no_grad():
            out = fresh.all_seq(torch.from_numpy(np.load(os.path.join(d, 'input.npy')))).numpy()
        err = float(np.abs(out - np.load(os.path.join(d, 'all_seq.npy'))).max())
        worst = max(worst, err)
        print(f'{os.path.basename(d)}: all_seq max abs error {err:.2e}; A/B/H buffers max abs difference {buf_err:.2e}')
    return 0 if worst <= 1e-4 else 1


if __name__ == '__main__':
    sys.exit(main())
