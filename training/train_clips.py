"""Step 3: train an LMUFormer keyword spotter on the synthetic clips (BCE on the whole-clip logits,
all-zero targets for non-keywords, as the official training does, plus a cross-entropy term on
keyword clips, see combined_loss) and save an official-format checkpoint (`module.`-prefixed
state_dict, as nn.DataParallel saves it).

Deterministic for a given --seed on one thread.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
from torch import nn

import vocab
from model import LmuFormer
# shared with the round-2 trainer (identical there)
from train import make_model, pick_threshold, predict, summarize, write_log

PAD_VALUE = (0.0 - (-6.845978)) / (5.5654526 * 2)  # a zero fbank frame after normalisation


def augment(x: torch.Tensor, y: torch.Tensor, g: torch.Generator, mixup: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature-domain augmentation of a batch [B, 128, 128] in the spirit of the official loader:
    SpecAugment masks (masked values = a zero fbank), small uniform noise, a small time shift, mixup."""
    b, n, f = x.shape
    x = x.clone()
    for i in range(b):
        fw = int(torch.randint(0, 17, (1,), generator=g))
        f0 = int(torch.randint(0, f - fw + 1, (1,), generator=g))
        x[i, :, f0:f0 + fw] = PAD_VALUE
        tw = int(torch.randint(0, 11, (1,), generator=g))
        t0 = int(torch.randint(0, n - tw + 1, (1,), generator=g))
        x[i, t0:t0 + tw, :] = PAD_VALUE
    scale = torch.rand(b, 1, 1, generator=g) / 10
    x = x + torch.rand(x.shape, generator=g) * scale
    shift = int(torch.randint(-6, 7, (1,), generator=g))
    x = torch.roll(x, shift, dims=1)
    if mixup > 0:
        lam = torch.distributions.Beta(10.0, 10.0).sample((b,))
        use = (torch.rand(b, generator=g) < mixup).float()
        lam = 1 - use * (1 - lam)
        perm = torch.randperm(b, generator=g)
        x = lam.view(b, 1, 1) * x + (1 - lam.view(b, 1, 1)) * x[perm]
        y = lam.view(b, 1) * y + (1 - lam.view(b, 1)) * y[perm]
    return x, y


def combined_loss(out: torch.Tensor, t: torch.Tensor, bce: nn.Module, bce_weight: float, ce_weight: float) -> torch.Tensor:
    """The official BCE (all-zero targets for non-keywords keep the sigmoid scores low when no
    keyword is spoken) plus a softmax cross-entropy over the 35 labels on keyword clips only, which
    makes a small CPU budget converge (BCE alone stays at the all-zero solution for a long time)."""
    loss = bce_weight * bce(out, t)
    if ce_weight > 0:
        w = t.sum(1)
        ce = -(t / w.clamp(min=1e-6).unsqueeze(1) * torch.log_softmax(out, 1)).sum(1)
        loss = loss + ce_weight * (ce * w).sum() / w.sum().clamp(min=1.0)
    return loss


def targets(labels: torch.Tensor, classes: int) -> torch.Tensor:
    t = torch.zeros(len(labels), classes)
    pos = labels >= 0
    t[pos, labels[pos].long()] = 1.0
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), 'data'))
    ap.add_argument('--variant', default='slmu_rnn_ms_conv1d', choices=['slmu_rnn_ms_conv1d', 'lmu_rnn_conv1d'])
    ap.add_argument('--dim', type=int, default=64)
    ap.add_argument('--epochs', type=int, default=6)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=2.5e-3)
    ap.add_argument('--mixup', type=float, default=0.0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--bce-weight', type=float, default=5.0)
    ap.add_argument('--ce-weight', type=float, default=1.0, help='0 = BCE only, as the official training')
    ap.add_argument('--init-from-lmu', default=None,
                    help='start a spiking model from a trained lmu_rnn_conv1d checkpoint: copy the conv filters, '
                         'W_u, the MLP, projection and head weights (same shapes); BatchNorms start fresh')
    ap.add_argument('--stop-after', type=int, default=0, help='stop after N epochs (the LR schedule still spans --epochs)')
    ap.add_argument('--init', default=None, help='continue from this official-format checkpoint (best_model.pth)')
    ap.add_argument('--max-train', type=int, default=0, help='use only the first N training clips (quick runs)')
    ap.add_argument('--out', required=True, help='run directory (best_model.pth, log.json)')
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    d = np.load(os.path.join(args.data, 'train.npz'))
    x_all, y_all = d['x'], d['y'].astype(np.int64)
    if args.max_train:
        x_all, y_all = x_all[:args.max_train], y_all[:args.max_train]
    n_val = max(500, len(y_all) // 30)  # validation: same training voices, clips never trained on
    x_tr, y_tr, x_val, y_val = x_all[n_val:], y_all[n_val:], x_all[:n_val], y_all[:n_val]
    x_tr_t = torch.from_numpy(x_tr)  # float16, converted per batch
    y_tr_t = torch.from_numpy(y_tr)
    classes = len(vocab.LABELS)
    model = make_model(args.variant, args.dim, classes, args.init_from_lmu, args.init)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'[train] {args.variant} dim {args.dim}: {n_params} parameters; {len(y_tr)} training clips, {n_val} validation', flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.95, 0.999))
    loss_fn = nn.BCEWithLogitsLoss()
    steps_per_epoch = len(y_tr) // args.batch
    total = steps_per_epoch * args.epochs
    warm = max(1, min(300, total // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))))
    g = torch.Generator().manual_seed(args.seed)
    log = {'args': vars(args), 'params': n_params, 'epochs': []}
    best = -1.0
    t0 = time.time()
    step = 0
    for epoch in range(args.stop_after or args.epochs):
        model.train()
        perm = torch.randperm(len(y_tr), generator=g)
        run_loss, run_acc, seen = 0.0, 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb = x_tr_t[idx].float()
            yb = targets(y_tr_t[idx], classes)
            xb, yb_mix = augment(xb, yb, g, args.mixup)
            out = model(xb)
            loss = combined_loss(out, yb_mix, loss_fn, args.bce_weight, args.ce_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            pos = y_tr_t[idx] >= 0
            run_loss += float(loss) * len(idx)
            run_acc += float((out[pos].argmax(1) == y_tr_t[idx][pos]).float().sum())
            seen += int(pos.sum())
            if step % 50 == 0:
                el = time.time() - t0
                print(f'[train] epoch {epoch + 1}/{args.epochs} step {i + 1}/{steps_per_epoch} loss {run_loss / ((i + 1) * args.batch):.4f} '
                      f'kw-acc {run_acc / max(1, seen):.3f} lr {sched.get_last_lr()[0]:.2e} {el:.0f}s elapsed, ~{el / step * (total - step):.0f}s left', flush=True)
        scores = predict(model, x_val)
        thr = pick_threshold(scores, y_val, 0.02)
        s = summarize(scores, y_val, thr)
        s.update(epoch=epoch + 1, train_loss=run_loss / (steps_per_epoch * args.batch), seconds=time.time() - t0)
        log['epochs'].append(s)
        print(f"[train] epoch {epoch + 1} validation: top-1 {s['keyword_top1']:.4f}, threshold {thr:.3f}: "
              f"false accepts {s['false_accept']:.4f}, detected {s['keyword_detected_at_threshold']:.4f}", flush=True)
        score = s['keyword_detected_at_threshold'] - s['false_accept'] + 0.01 * s['keyword_top1']
        if score > best:
            best = score
            log['best'] = s
            torch.save(nn.DataParallel(model).state_dict(), os.path.join(args.out, 'best_model.pth'))
        write_log(args.out, log)
    log['train_seconds'] = time.time() - t0
    write_log(args.out, log)
    print(f"[train] done in {log['train_seconds']:.0f}s; best validation {log['best']}", flush=True)


if __name__ == '__main__':
    main()
