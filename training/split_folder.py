"""A folder of one split's clips (`<word>/<file>`, symbolic links to the data set's files), so that
`edgestream eval` can judge a model on exactly the validation speakers.

    /usr/bin/python3 training/split_folder.py --split val --out training/data/real/val-clips
"""
from __future__ import annotations

import argparse
import os
import shutil

import speech_commands as sc
from make_stream import DEFAULT_DATA


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=DEFAULT_DATA)
    ap.add_argument('--split', choices=['train', 'val'], default='val')
    ap.add_argument('--val-percent', type=float, default=15)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    train, val = sc.split(sc.index(args.data), args.val_percent)
    clips = val if args.split == 'val' else train
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    for c in clips:
        folder = os.path.join(args.out, c.word)
        os.makedirs(folder, exist_ok=True)
        os.symlink(os.path.abspath(c.path), os.path.join(folder, os.path.basename(c.path)))
    print(f'[split] {len(clips)} {args.split} clips of {len({c.speaker for c in clips})} speakers → {args.out}', flush=True)


if __name__ == '__main__':
    main()
