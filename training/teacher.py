"""An offline teacher for distillation: a small 2-D CNN over the 128 × 128 fbank image of a clip.

A training tool only, never shipped: it sees the whole second at once (the streaming LMUFormer sees
one frame at a time), learns the 12-class task faster on these few clips, and its softened outputs
then teach the student (`train_kws12.py --teacher teacher.pt …`). Trained on the same speakers and the same
augmented clips as the student (wave_augment.py); like the student's, its epoch is chosen on the
validation speakers.
For kws12 it reached 89 % on the validation clips, and distilling from it helped clips but not the
noisy streams, so the shipped recipe does without it (training/README.md, run e12).
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


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TeacherCnn(nn.Module):
    """[B, frames, mels] → [B, classes]. A strided stem, then conv blocks with pooling, global
    average pooling and a linear head (0.13 G multiply-adds per clip at width 32)."""

    def __init__(self, classes: int = len(sc.LABELS), width: int = 32):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            block(w, 2 * w), block(2 * w, 2 * w), nn.MaxPool2d(2),
            block(2 * w, 4 * w), block(4 * w, 4 * w), nn.MaxPool2d(2),
            block(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
        self.head = nn.Linear(4 * w, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.unsqueeze(1)))


def load_teacher(path: str) -> TeacherCnn:
    ck = torch.load(path, map_location='cpu')
    model = TeacherCnn(classes=ck['classes'], width=ck['width'])
    model.load_state_dict(ck['state_dict'])
    return model.eval()


class ClipBatches(torch.utils.data.IterableDataset):
    """Endless augmented clip batches from a seeded worker (the student's clip examples)."""

    def __init__(self, waves, labels, noise, args):
        self.waves, self.labels, self.noise, self.args = waves, labels, noise, args

    def __iter__(self):
        from train_kws12 import clip_batch
        from wave_augment import Augmenter, ClipPool
        a = self.args
        rng = np.random.default_rng(a.seed)
        aug, pool = Augmenter(rng, self.noise), ClipPool(self.waves, self.labels)
        while True:
            x, y = clip_batch(rng, aug, pool, a.batch, a.silence_p, a.unknown_p)
            yield torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def evaluate(model: nn.Module, xc: np.ndarray, yc: np.ndarray) -> dict:
    model.eval()
    pred = torch.cat([model(torch.from_numpy(xc[i:i + 256])) for i in range(0, len(xc), 256)]).argmax(1).numpy()
    cmd = yc >= 2
    return {'top1': float((pred[cmd] == yc[cmd]).mean()), 'accuracy12': float((pred == yc).mean()),
            'false_accept': float((pred[~cmd] >= 2).mean())}


def main() -> None:
    from train_kws12 import SpecAugment, WeightAverage, add_data_options, load_split, one_cycle, worker_batches
    from wave_augment import clip_features, fit
    ap = argparse.ArgumentParser(description=__doc__)
    add_data_options(ap)
    ap.add_argument('--width', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--steps-per-epoch', type=int, default=100)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--weight-decay', type=float, default=0.02)
    ap.add_argument('--label-smoothing', type=float, default=0.05)
    ap.add_argument('--unknown-p', type=float, default=0.3)
    ap.add_argument('--silence-p', type=float, default=0.1)
    ap.add_argument('--ema', type=float, default=0.999)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', required=True, help='folder for teacher.pt and log.json')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    train, tw, val, vw, noise = load_split(args)
    xc = np.stack([clip_features(fit(w, sc.RATE)) for w in vw])
    yc = np.array([c.label for c in val])
    print(f'[teacher] {len(train)} training clips, {len(val)} validation clips', flush=True)
    batches = worker_batches(ClipBatches(tw, [c.label for c in train], sc.noise_parts(noise, 'train'), args))
    model = TeacherCnn(width=args.width)
    total = args.epochs * args.steps_per_epoch
    opt, sched = one_cycle(model, args.lr, args.weight_decay, total)
    spec = SpecAugment(torch.Generator().manual_seed(args.seed))
    ce = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    ema = WeightAverage(model, args.ema)
    log = {'args': vars(args), 'params': sum(p.numel() for p in model.parameters()), 'evals': []}
    best, run, t0 = -1e9, 0.0, time.time()
    for step in range(total):
        x, y = next(batches)
        model.train()
        loss = ce(model(spec(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        ema.update(model, step)
        run += float(loss)
        if (step + 1) % args.steps_per_epoch == 0:
            ep = (step + 1) // args.steps_per_epoch
            s = evaluate(ema.model, xc, yc)
            s.update(epoch=ep, loss=run / args.steps_per_epoch, seconds=round(time.time() - t0))
            run = 0.0
            log['evals'].append(s)
            print(f"[teacher] epoch {ep}/{args.epochs} loss {s['loss']:.3f} | top-1 {s['top1']:.4f} FA {s['false_accept']:.4f} "
                  f"acc12 {s['accuracy12']:.4f} | {s['seconds']}s", flush=True)
            if s['top1'] - s['false_accept'] > best:
                best = s['top1'] - s['false_accept']
                log['best'] = s
                torch.save({'classes': len(sc.LABELS), 'width': args.width, 'state_dict': ema.model.state_dict()},
                           os.path.join(args.out, 'teacher.pt'))
            with open(os.path.join(args.out, 'log.json'), 'w') as f:
                json.dump(log, f, indent=1)
    print(f"[teacher] done in {time.time() - t0:.0f}s; best {log['best']}", flush=True)


if __name__ == '__main__':
    main()
