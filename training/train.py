"""Step 3: train an LMUFormer keyword spotter for continuous streams and save an official-format
checkpoint (`module.`-prefixed state_dict, as nn.DataParallel saves it).

Training data are sequences of continuous audio (build.py --sequences) with a label for every frame:
what the window of the last `--window` frames ending there contains (a keyword fully inside, part of
one, or none). The model runs over the whole sequence exactly as the runtime streams it (the LMU
memory and the convolutions carry context from before the window), and the head is applied to the
mean of the features over each window, as the runtime's windowed head (`headWindow`) does; the
window that starts with the sequence is the official whole-clip output. Loss per window: the
official BCE (all-zero targets where no keyword is inside, which keeps scores low on other speech;
for a partly heard keyword, zeros on the other labels and no target on its own) plus a softmax
cross-entropy over the 35 labels where a keyword is inside. Feature-domain augmentation on the fly
simulates new voices and microphones (vocal-tract-length warping of the mel axis, random EQ,
band-limiting, gain) plus SpecAugment masks.

Model selection and threshold calibration use validation voices only (vocab.is_validation).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn

import features
import vocab
from model import LmuFormer

PAD_VALUE = (0.0 - features.MEAN) / (features.STD * 2)  # a zero fbank frame after normalisation
NEGATIVE, IGNORE, PARTIAL = -1, -2, 100  # build.window_labels


def mel_bin_hz(bins: int = 128, low: float = 20.0, high: float = 8000.0) -> np.ndarray:
    mel = lambda f: 1127.0 * np.log1p(f / 700.0)
    lo, hi = mel(low), mel(high)
    centres = lo + (np.arange(bins) + 1) * (hi - lo) / (bins + 1)
    return 700.0 * np.expm1(centres / 1127.0), lo, hi


class FeatureAugment:
    """Cheap, batched augmentation of normalised log-mel features [B, N, F] (whole sequences, so a
    stream keeps one voice and one microphone)."""

    def __init__(self, g: torch.Generator, strength: float = 1.0, vtlp: tuple[float, float] = (0.85, 1.18)):
        self.g = g
        self.strength = strength
        self.vtlp = vtlp
        self.hz, self.mlo, self.mhi = mel_bin_hz()

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=self.g)

    def warp_index(self, alpha: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Source positions on the mel axis for spectra scaled in frequency by alpha (formants move)."""
        src_hz = self.hz[None, :] / alpha[:, None]
        mel = 1127.0 * np.log1p(src_hz / 700.0)
        pos = (mel - self.mlo) / ((self.mhi - self.mlo) / (len(self.hz) + 1)) - 1
        pos = np.clip(pos, 0, len(self.hz) - 1)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, len(self.hz) - 1)
        return torch.from_numpy(i0), torch.from_numpy(i1), torch.from_numpy((pos - i0).astype(np.float32))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, n, f = x.shape
        s = self.strength
        raw = x * (2 * features.STD) + features.MEAN  # log-mel energies
        # vocal-tract length / formant scaling: warp the frequency axis
        use = (self.rand(b) < 0.8 * s).numpy()
        alpha = np.where(use, np.exp(np.log(self.vtlp[0]) + self.rand(b).numpy() * np.log(self.vtlp[1] / self.vtlp[0])), 1.0)
        i0, i1, w = self.warp_index(alpha)
        raw = torch.gather(raw, 2, i0[:, None, :].expand(b, n, f)) * (1 - w[:, None, :]) + \
            torch.gather(raw, 2, i1[:, None, :].expand(b, n, f)) * w[:, None, :]
        k = torch.arange(f, dtype=torch.float32) / (f - 1)
        # microphone / room colouring: a smooth random EQ curve and a gain (in log energy)
        eq = torch.zeros(b, f)
        for h in range(1, 5):
            amp = (self.rand(b, 1) * 2 - 1) * (0.9 / h) * s
            eq = eq + amp * torch.cos(math.pi * h * k[None, :] + self.rand(b, 1) * math.pi)
        raw = raw + eq[:, None, :] + ((self.rand(b, 1, 1) * 2 - 1) * 1.0 * s)
        floor = raw.amin(dim=(1, 2), keepdim=True)
        # band-limited cheap microphones / telephone: roll off above a cutoff, below a low cut
        hi = (self.rand(b, 1, 1) < 0.25 * s).float()
        cut = 80 + self.rand(b, 1, 1) * 45
        slope = 0.3 + self.rand(b, 1, 1) * 1.2
        bins = torch.arange(f, dtype=torch.float32)[None, None, :]
        raw = raw - hi * torch.clamp((bins - cut) * slope, min=0)
        lo = (self.rand(b, 1, 1) < 0.2 * s).float()
        lcut = 2 + self.rand(b, 1, 1) * 10
        raw = raw - lo * torch.clamp((lcut - bins) * slope, min=0)
        raw = torch.maximum(raw, floor)
        x = (raw - features.MEAN) / (2 * features.STD)
        # SpecAugment: frequency and time masks (value: the sequence's mean), official small noise
        fill = x.mean(dim=(1, 2))
        for _ in range(2):
            fw = (self.rand(b) * 13 * s).long()
            f0 = (self.rand(b) * (f - fw)).long()
            m = (bins[0, 0][None, :] >= f0[:, None]) & (bins[0, 0][None, :] < (f0 + fw)[:, None])
            x = torch.where(m[:, None, :], fill[:, None, None], x)
            tw = (self.rand(b) * 11 * s).long()
            t0 = (self.rand(b) * (n - tw)).long()
            tt = torch.arange(n)[None, :]
            m = (tt >= t0[:, None]) & (tt < (t0 + tw)[:, None])
            x = torch.where(m[:, :, None], fill[:, None, None], x)
        return x + self.rand(b, n, f) * (self.rand(b, 1, 1) / 10)


def window_logits(model: LmuFormer, x: torch.Tensor, window: int, first: int) -> torch.Tensor:
    """Head outputs for the windows ending at frames first…N−1: the mean over the last `window`
    frames (fewer at the start), as the runtime's windowed head. [B, N − first, K]"""
    f = model.features(x)  # [B, C, N]
    b, c, n = f.shape
    cs = torch.cat([f.new_zeros(b, c, 1), torch.cumsum(f, dim=2)], dim=2)  # cs[:, :, t+1] = Σ_{s≤t}
    t = torch.arange(first, n)
    lo = torch.clamp(t + 1 - window, min=0)
    mean = (cs[:, :, t + 1] - cs[:, :, lo]) / (t + 1 - lo).to(f.dtype)
    return model.head(mean.transpose(1, 2).contiguous())


def window_loss(logits: torch.Tensor, y: torch.Tensor, classes: int, bce_weight: float, ce_weight: float) -> torch.Tensor:
    """logits [B, T, K], y [B, T] window labels."""
    pos = (y >= 0) & (y < classes)
    part = y >= PARTIAL
    used = (y != IGNORE)
    target = torch.zeros_like(logits)
    k = torch.where(pos, y, torch.zeros_like(y)).long()
    target.scatter_(2, k.unsqueeze(2), pos.unsqueeze(2).to(logits.dtype))
    weight = used.unsqueeze(2).to(logits.dtype).expand_as(logits).clone()
    kp = torch.where(part, y - PARTIAL, torch.zeros_like(y)).long()
    weight.scatter_(2, kp.unsqueeze(2), torch.where(part, torch.zeros_like(y), used.to(y.dtype)).unsqueeze(2).to(logits.dtype))
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction='sum')
    bce = bce / (used.sum().clamp(min=1) * classes)
    loss = bce_weight * bce
    if ce_weight > 0 and pos.any():
        loss = loss + ce_weight * nn.functional.cross_entropy(logits[pos], y[pos].long())
    return loss


def transfer_from_lmu(model: LmuFormer, lmu_sd: dict) -> str:
    """ANN-to-SNN warm start: copy the tensors whose role and shape match between lmu_rnn_conv1d and
    slmu_rnn_ms_conv1d (the architecture stays the official spiking one; only the start point changes).
    Returns how many of the candidate tensors were copied, for the caller's log."""
    src = {k[len('module.'):]: v for k, v in lmu_sd.items()}
    pairs = {f'patch_embed.conv_layers.{i}.0.weight': f'patch_embed.proj_conv{s}.weight' for i, s in enumerate(['', '1', '2', '3'])}
    pairs['patch_embed.rpe_conv.weight'] = 'patch_embed.rpe_conv.weight'
    for i in range(len(model.block)):  # every block of a deeper model, each from its counterpart
        for k in ('attn.lmu.W_u.weight', 'attn.lmu.W_u.bias', 'attn.proj_conv.weight', 'attn.proj_conv.bias',
                  'mlp.fc1_conv.weight', 'mlp.fc1_conv.bias', 'mlp.fc2_conv.weight', 'mlp.fc2_conv.bias'):
            pairs[f'block.{i}.{k}'] = f'block.{i}.{k}'
    pairs['head.weight'], pairs['head.bias'] = 'head.weight', 'head.bias'
    dst = model.state_dict()
    copied = 0
    for a, b in pairs.items():
        if a in src and b in dst and src[a].shape == dst[b].shape:
            dst[b] = src[a].clone()
            copied += 1
    model.load_state_dict(dst)
    return f'{copied} of {len(pairs)} conv/LMU/MLP/head tensors'


def write_log(out: str, log: dict) -> None:
    """The run's log.json (rewritten after every evaluation, so a stopped run keeps its figures)."""
    with open(os.path.join(out, 'log.json'), 'w') as f:
        json.dump(log, f, indent=1)


def make_model(variant: str, dim: int, classes: int, init_from_lmu: str | None, init: str | None) -> LmuFormer:
    """A fresh model, optionally warm-started (--init-from-lmu) or continued (--init) from an
    official-format checkpoint."""
    model = LmuFormer(variant, dim, classes=classes)
    if init_from_lmu:
        copied = transfer_from_lmu(model, torch.load(init_from_lmu, map_location='cpu'))
        print(f'[train] ANN-to-SNN start: {copied} copied from {init_from_lmu}', flush=True)
    if init:
        sd = torch.load(init, map_location='cpu')
        model.load_state_dict({k[len('module.'):]: v for k, v in sd.items()})
        print(f'[train] continuing from {init}', flush=True)
    return model


@torch.no_grad()
def predict(model: LmuFormer, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Sigmoid scores of the whole-clip logits (the final all_seq frame) [n, classes]."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        out.append(torch.sigmoid(model(torch.from_numpy(x[i:i + batch].astype(np.float32)))))
    return torch.cat(out).numpy()


@torch.no_grad()
def predict_windows(model: LmuFormer, x: np.ndarray, window: int, first: int, batch: int = 64) -> np.ndarray:
    """Sigmoid scores of every window ending at frames first…N−1 [n, N − first, classes]."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        out.append(torch.sigmoid(window_logits(model, torch.from_numpy(x[i:i + batch].astype(np.float32)), window, first)))
    return torch.cat(out).numpy()


def summarize(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    pos, neg = y >= 0, y < 0
    top1 = float((scores[pos].argmax(1) == y[pos]).mean()) if pos.any() else float('nan')
    detected = float(((scores[pos].argmax(1) == y[pos]) & (scores[pos].max(1) >= threshold)).mean()) if pos.any() else float('nan')
    fa = float((scores[neg].max(1) >= threshold).mean()) if neg.any() else float('nan')
    return {'keyword_top1': top1, 'keyword_detected_at_threshold': detected, 'false_accept': fa,
            'threshold': threshold, 'keywords': int(pos.sum()), 'non_keywords': int(neg.sum())}


def summarize_sequences(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """Stream-like figures on labelled sequences: a keyword sequence counts as detected when some
    window holding the whole keyword has it as the top label at ≥ threshold, and as a wrong label
    when a window reaches the threshold with another label; a sequence without keyword counts as a
    false accept when any window reaches the threshold. Window top-1: over all windows holding a keyword."""
    classes = scores.shape[2]
    best, arg = scores.max(2), scores.argmax(2)
    pos = (y >= 0) & (y < classes)
    has_kw = pos.any(1)
    det = ((arg == y) & pos & (best >= threshold)).any(1)
    kseq = np.where(pos, y, np.where(y >= PARTIAL, y - PARTIAL, -1)).max(1)  # the sequence's keyword (−1: none)
    wrong = ((arg != kseq[:, None]) & (best >= threshold) & (y != IGNORE)).any(1)
    neg_seq = ~has_kw & ~(y >= PARTIAL).any(1)
    fa = (best >= threshold) & (y != IGNORE)
    return {'window_top1': float((arg[pos] == y[pos]).mean()) if pos.any() else float('nan'),
            'sequence_detected': float(det[has_kw].mean()) if has_kw.any() else float('nan'),
            'sequence_wrong_label': float(wrong[has_kw].mean()) if has_kw.any() else float('nan'),
            'sequence_false_accept': float(fa[neg_seq].any(1).mean()) if neg_seq.any() else float('nan'),
            'negative_window_false_accept': float(fa[y == NEGATIVE].mean()) if (y == NEGATIVE).any() else float('nan'),
            'keyword_sequences': int(has_kw.sum()), 'negative_sequences': int(neg_seq.sum())}


def pick_threshold(scores: np.ndarray, y: np.ndarray, max_fa: float, lo: float = 0.3, hi: float = 0.95) -> float:
    """Lowest threshold whose false-accept rate on these non-keyword clips is ≤ max_fa, kept within
    [lo, hi] (model selection uses the defaults; calibrate.py the unclamped value)."""
    neg = np.sort(scores[y < 0].max(1))[::-1]
    k = int(math.floor(max_fa * len(neg)))
    t = float(neg[k]) + 1e-6 if k < len(neg) else 0.0
    return min(max(t, lo), hi)


def load_sequences(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for p in paths:
        d = np.load(p)
        xs.append(d['x'])
        ys.append(d['y'])
    return (np.concatenate(xs), np.concatenate(ys)) if len(xs) > 1 else (xs[0], ys[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), 'data'))
    ap.add_argument('--train', nargs='+', default=['train-seq0.npz', 'train-seq1.npz'], help='sequence files in --data')
    ap.add_argument('--val-seq', default='val-seq.npz')
    ap.add_argument('--val-clips', default='val.npz')
    ap.add_argument('--variant', default='lmu_rnn_conv1d', choices=['slmu_rnn_ms_conv1d', 'lmu_rnn_conv1d'])
    ap.add_argument('--dim', type=int, default=64)
    ap.add_argument('--window', type=int, default=128, help='frames of the windowed head')
    ap.add_argument('--first', type=int, default=31, help='first frame whose window enters the loss')
    ap.add_argument('--frames', type=int, default=0, help='use only the first N frames of each sequence (0 = all)')
    ap.add_argument('--epochs', type=float, default=10)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3, help='peak learning rate (one-cycle)')
    ap.add_argument('--weight-decay', type=float, default=0.02)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--bce-weight', type=float, default=10.0)
    ap.add_argument('--ce-weight', type=float, default=1.0)
    ap.add_argument('--aug', type=float, default=1.0, help='strength of the feature-domain augmentation (0 = off)')
    ap.add_argument('--val-fa', type=float, default=0.03, help='false-accept rate on validation clips that sets the threshold')
    ap.add_argument('--evals-per-epoch', type=int, default=2)
    ap.add_argument('--patience', type=int, default=4, help='stop after this many evaluations without improvement')
    ap.add_argument('--max-minutes', type=float, default=0, help='stop after this much training time (0 = no limit)')
    ap.add_argument('--init-from-lmu', default=None,
                    help='start a spiking model from a trained lmu_rnn_conv1d checkpoint: copy the conv filters, '
                         'W_u, the MLP, projection and head weights (same shapes); BatchNorms start fresh')
    ap.add_argument('--init', default=None, help='continue from this official-format checkpoint (best_model.pth)')
    ap.add_argument('--out', required=True, help='run directory (best_model.pth, log.json)')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    x_tr, y_tr = load_sequences([os.path.join(args.data, p) for p in args.train])
    if args.frames:
        x_tr, y_tr = x_tr[:, :args.frames], y_tr[:, :args.frames]
    x_tr_t, y_tr_t = torch.from_numpy(x_tr), torch.from_numpy(y_tr)  # float16, converted per batch
    vs = np.load(os.path.join(args.data, args.val_seq))
    x_vs, y_vs = vs['x'], vs['y'].astype(np.int64)
    if args.frames:
        x_vs, y_vs = x_vs[:, :args.frames], y_vs[:, :args.frames]
    vc = np.load(os.path.join(args.data, args.val_clips))
    x_vc, y_vc = vc['x'], vc['y'].astype(np.int64)
    classes = len(vocab.LABELS)
    model = make_model(args.variant, args.dim, classes, args.init_from_lmu, args.init)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'[train] {args.variant} dim {args.dim}: {n_params} parameters; {len(y_tr)} training sequences of {x_tr.shape[1]} frames; '
          f'validation: {len(y_vs)} sequences, {len(y_vc)} clips', flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.999))
    steps_per_epoch = len(y_tr) // args.batch
    total = int(steps_per_epoch * args.epochs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.15,
                                                div_factor=20, final_div_factor=200)
    g = torch.Generator().manual_seed(args.seed)
    aug = FeatureAugment(g, args.aug)
    eval_every = max(1, steps_per_epoch // args.evals_per_epoch)
    log = {'args': vars(args), 'params': n_params, 'evals': []}
    best, since_best = -1e9, 0
    t0 = time.time()
    run_loss, run_n = 0.0, 0
    perm = torch.randperm(len(y_tr), generator=g)
    for step in range(total):
        i = step % steps_per_epoch
        if i == 0 and step:
            perm = torch.randperm(len(y_tr), generator=g)
        model.train()
        idx = perm[i * args.batch:(i + 1) * args.batch]
        xb = x_tr_t[idx].float()
        if args.aug > 0:
            xb = aug(xb)
        yb = y_tr_t[idx, args.first:].long()
        loss = window_loss(window_logits(model, xb, args.window, args.first), yb, classes, args.bce_weight, args.ce_weight)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        run_loss += float(loss)
        run_n += 1
        el = time.time() - t0
        if (step + 1) % 50 == 0:
            print(f'[train] step {step + 1}/{total} (epoch {(step + 1) / steps_per_epoch:.2f}) loss {run_loss / run_n:.4f} '
                  f'lr {sched.get_last_lr()[0]:.2e} {el:.0f}s elapsed, ~{el / (step + 1) * (total - step - 1):.0f}s left', flush=True)
        out_of_time = args.max_minutes and el > args.max_minutes * 60
        if (step + 1) % eval_every == 0 or step + 1 == total or out_of_time:
            sc = predict(model, x_vc)
            thr = pick_threshold(sc, y_vc, args.val_fa)
            s = summarize(sc, y_vc, thr)
            ws = predict_windows(model, x_vs, args.window, args.first)
            s.update({f'seq_{k}': v for k, v in summarize_sequences(ws, y_vs[:, args.first:], thr).items()})
            s.update(step=step + 1, epoch=round((step + 1) / steps_per_epoch, 3), train_loss=run_loss / run_n, seconds=time.time() - t0)
            run_loss, run_n = 0.0, 0
            score = s['keyword_detected_at_threshold'] + s['seq_sequence_detected'] - s['seq_sequence_false_accept'] \
                - s['seq_sequence_wrong_label'] + 0.5 * s['keyword_top1']
            s['selection_score'] = score
            log['evals'].append(s)
            print(f"[train] eval @ epoch {s['epoch']}: clips top-1 {s['keyword_top1']:.4f}, threshold {thr:.3f} (val FA {s['false_accept']:.3f}) "
                  f"detected {s['keyword_detected_at_threshold']:.4f}; sequences: window top-1 {s['seq_window_top1']:.4f}, "
                  f"detected {s['seq_sequence_detected']:.4f}, wrong {s['seq_sequence_wrong_label']:.4f}, "
                  f"FA {s['seq_sequence_false_accept']:.4f}; score {score:.4f}", flush=True)
            if score > best:
                best, since_best = score, 0
                log['best'] = s
                torch.save(nn.DataParallel(model).state_dict(), os.path.join(args.out, 'best_model.pth'))
            else:
                since_best += 1
            write_log(args.out, log)
            if since_best >= args.patience:
                print(f'[train] no improvement in {args.patience} evaluations: early stop', flush=True)
                break
            if out_of_time:
                print(f'[train] time limit of {args.max_minutes} min reached', flush=True)
                break
    log['train_seconds'] = time.time() - t0
    write_log(args.out, log)
    print(f"[train] done in {log['train_seconds']:.0f}s; best validation {log.get('best')}", flush=True)


if __name__ == '__main__':
    main()
