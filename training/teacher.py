"""An offline teacher for knowledge distillation: a 2-D CNN over the whole clip's log-mel image.

A convolutional network sees the clip as a picture (time × frequency) and learns the 12-class task
on these few thousand real clips faster and better than a small streaming model; its soft outputs
then teach the LMUFormer (train_kws12.py --teacher). The teacher is a training tool only: it is
never shipped, and it is trained on the same training speakers (validation speakers stay unseen).

    /usr/bin/python3 training/teacher.py --out training/runs/teacher
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn

import speech_commands as sc
from train_kws12 import SpecAugment, load_split
from wave_augment import Augmenter, ClipPool, clip_features, fit


class ClipCnn(nn.Module):
    """Input [B, frames, mels] normalised fbank → logits [B, classes]."""

    def __init__(self, classes: int = len(sc.LABELS), width: int = 32):
        super().__init__()
        c = [1, width // 2, width, 2 * width, 4 * width, 4 * width]

        def block(i: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c[i], c[i + 1], 3, padding=1, bias=False), nn.BatchNorm2d(c[i + 1]), nn.ReLU()]
            return layers + [nn.MaxPool2d(2)] if pool else layers

        self.net = nn.Sequential(*block(0, True), *block(1, True), *block(2, True), *block(3, True), *block(4, False))
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(c[5], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x.unsqueeze(1))
        return self.fc(self.drop(h.mean(dim=(2, 3))))


def load_teacher(path: str) -> ClipCnn:
    ck = torch.load(path, map_location='cpu')
    t = ClipCnn(width=ck['width'])
    t.load_state_dict(ck['state_dict'])
    return t.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'data', 'speech-commands'))
    ap.add_argument('--cache', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'real'))
    ap.add_argument('--val-percent', type=float, default=15)
    ap.add_argument('--width', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=25)
    ap.add_argument('--steps-per-epoch', type=int, default=100)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--unknown-p', type=float, default=0.3)
    ap.add_argument('--silence-p', type=float, default=0.1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    train, tw, val, vw, noise = load_split(args)
    xc = np.stack([clip_features(fit(w, sc.RATE)) for w in vw])
    yc = np.array([c.label for c in val])
    rng = np.random.default_rng(args.seed)
    aug = Augmenter(rng, sc.noise_parts(noise, 'train'))
    pool = ClipPool(tw, [c.label for c in train])
    model = ClipCnn(width=args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.02)
    total = args.epochs * args.steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.1)
    spec = SpecAugment(torch.Generator().manual_seed(args.seed))
    ce = nn.CrossEntropyLoss(label_smoothing=0.05)
    best, log = -1.0, {'args': vars(args), 'evals': []}
    t0 = time.time()
    for step in range(total):
        kinds = rng.random(args.batch)
        labels = np.where(kinds < args.silence_p, 0, np.where(kinds < args.silence_p + args.unknown_p, 1, rng.integers(2, len(sc.LABELS), args.batch)))
        xb = torch.from_numpy(np.stack([aug.clip(pool.draw(int(l), rng), int(l)) for l in labels]))
        model.train()
        loss = ce(model(spec(xb)), torch.from_numpy(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % args.steps_per_epoch == 0:
            model.eval()
            with torch.no_grad():
                pred = torch.cat([model(torch.from_numpy(xc[i:i + 256])) for i in range(0, len(xc), 256)]).argmax(1).numpy()
            cmd = yc >= 2
            s = {'epoch': (step + 1) // args.steps_per_epoch, 'top1': float((pred[cmd] == yc[cmd]).mean()),
                 'false_accept': float((pred[~cmd] >= 2).mean()), 'seconds': round(time.time() - t0)}
            log['evals'].append(s)
            print(f"[teacher] epoch {s['epoch']}/{args.epochs}: top-1 {s['top1']:.4f} FA {s['false_accept']:.4f} ({s['seconds']}s)", flush=True)
            if s['top1'] - s['false_accept'] > best:
                best = s['top1'] - s['false_accept']
                log['best'] = s
                torch.save({'width': args.width, 'state_dict': model.state_dict()}, os.path.join(args.out, 'teacher.pt'))
            with open(os.path.join(args.out, 'log.json'), 'w') as f:
                json.dump(log, f, indent=1)


if __name__ == '__main__':
    main()
