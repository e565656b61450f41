"""Train a 12-class LMUFormer keyword spotter on real Speech Commands recordings.

Each step draws fresh examples from the training speakers' clips (wave_augment.py): whole clips as
`classify` sees them (loss on the whole-clip output) and sequences of continuous noisy speech as
`listen` sees them (loss on the windowed head at every frame from `--first` on). Loss: softmax
cross-entropy over the 12 labels, optionally distilled from trained teachers (`--teacher`: the
average of their softened outputs; an LMUFormer teaches on clips and on every window, the CNN of
teacher.py on clips). The model keeps the official architecture and parameter names, and the
best checkpoint (validation speakers) is saved as an official-format `best_model.pth`.
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
from model import LmuFormer
from train import window_logits  # the runtime's windowed head over a sequence (shared with the synthetic recipe)
from wave_augment import IGNORE, Augmenter, ClipPool, PAD_VALUE

FRAMES_CLIP = 128


class SpecAugment:
    """Frequency and time masks on normalised features (filled with the example's mean)."""

    def __init__(self, g: torch.Generator, freq: int = 15, time: int = 12, masks: int = 2):
        self.g, self.freq, self.time, self.masks = g, freq, time, masks

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, n, f = x.shape
        fill = x.mean(dim=(1, 2), keepdim=True)
        fb = torch.arange(f)[None, :]
        tb = torch.arange(n)[None, :]
        for _ in range(self.masks):
            fw = (torch.rand(b, generator=self.g) * self.freq).long()
            f0 = (torch.rand(b, generator=self.g) * (f - fw)).long()
            m = (fb >= f0[:, None]) & (fb < (f0 + fw)[:, None])
            x = torch.where(m[:, None, :], fill, x)
            tw = (torch.rand(b, generator=self.g) * self.time).long()
            t0 = (torch.rand(b, generator=self.g) * (n - tw)).long()
            m = (tb >= t0[:, None]) & (tb < (t0 + tw)[:, None])
            x = torch.where(m[:, :, None], fill, x)
        return x


class WeightAverage:
    """An exponential moving average of every parameter and batch-norm statistic: the averaged
    weights sit in a flatter part of the loss than the last step's (here they scored higher on the
    validation speakers). The decay ramps up as (1 + step) / (10 + step), from 0.1 at step 0, to
    `decay`; integer buffers are copied. (torch's AveragedModel copies at its first update instead,
    which would change the recipe's result.)"""

    def __init__(self, model: nn.Module, decay: float):
        import copy
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for avg, cur in zip(self.model.state_dict().values(), model.state_dict().values()):
            if avg.dtype.is_floating_point:
                avg.mul_(d).add_(cur, alpha=1 - d)
            else:
                avg.copy_(cur)


def clip_batch(rng: np.random.Generator, aug: Augmenter, pool: ClipPool, n: int, silence_p: float, unknown_p: float) -> tuple:
    """`n` augmented clips: silence with probability `silence_p`, another word with `unknown_p`,
    else a command drawn uniformly. ([n, frames, mels] features, [n] labels)"""
    kinds = rng.random(n)
    labels = np.where(kinds < silence_p, 0, np.where(kinds < silence_p + unknown_p, 1, rng.integers(2, len(sc.LABELS), n)))
    return np.stack([aug.clip(pool.draw(int(l), rng), int(l)) for l in labels]), labels


class Batches(torch.utils.data.IterableDataset):
    """Endless training batches (clips + sequences), made in a worker process so that the audio work
    overlaps the model's. One worker, seeded: the batches are the same on every run."""

    def __init__(self, waves, labels, noise, args):
        self.waves, self.labels, self.noise, self.args = waves, labels, noise, args

    def __iter__(self):
        a = self.args
        rng = np.random.default_rng(a.seed)
        aug = Augmenter(rng, self.noise)
        pool = ClipPool(self.waves, self.labels)
        while True:
            xb, clip_labels = clip_batch(rng, aug, pool, a.batch_clips, a.silence_p, a.unknown_p)
            seqs = [aug.sequence(pool, a.seq_frames, a.window, phrase_p=a.phrase_p) for _ in range(a.batch_seq)]
            xq = np.stack([s[0] for s in seqs]) if seqs else np.zeros((0, a.seq_frames, 128), np.float32)
            yq = np.stack([s[1] for s in seqs])[:, a.first:] if seqs else np.zeros((0, a.seq_frames - a.first), np.int64)
            yield torch.from_numpy(xb), torch.from_numpy(clip_labels), torch.from_numpy(xq), torch.from_numpy(yq)


def load_any_teacher(path: str) -> nn.Module:
    """A teacher.py CNN (teacher.pt, a dict with its width) or an official-format LMUFormer checkpoint."""
    ck = torch.load(path, map_location='cpu')
    if isinstance(ck, dict) and 'width' in ck:
        from teacher import load_teacher
        return load_teacher(path)
    from verify import load_checkpoint
    return load_checkpoint(path, 'lmu_rnn_conv1d')


def add_data_options(ap) -> None:
    """--data, --cache and --val-percent, shared with teacher.py: both must read the same split."""
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--data', default=os.path.join(here, '..', '..', 'shared', 'data', 'speech-commands'),
                    help='Speech Commands folder (<word>/<speaker>_nohash_<n>.wav|flac, _background_noise_/)')
    ap.add_argument('--cache', default=os.path.join(here, 'data', 'real'), help='decoded audio cache folder ("" = none)')
    ap.add_argument('--val-percent', type=float, default=15)


def worker_batches(dataset: torch.utils.data.IterableDataset):
    """The batches of `dataset`, made in one seeded worker process that overlaps the training step."""
    return iter(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=1, prefetch_factor=4,
                                            worker_init_fn=lambda _: torch.set_num_threads(1)))


def one_cycle(model: nn.Module, lr: float, weight_decay: float, total: int) -> tuple:
    """AdamW (no weight decay on norms and biases) with the recipe's one-cycle schedule over `total` steps."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': weight_decay}, {'params': no_decay, 'weight_decay': 0.0}], lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1, div_factor=20, final_div_factor=200)
    return opt, sched


def load_split(args) -> tuple:
    clips = sc.index(args.data)
    train, val = sc.split(clips, args.val_percent)
    cache = os.path.join(args.cache, 'waves-{}.npz')
    train, tw = sc.load_waves(train, cache.format('train') if args.cache else None)
    val, vw = sc.load_waves(val, cache.format('val') if args.cache else None)
    noise = sc.load_noise(args.data)
    return train, tw, val, vw, noise


def build_validation(val, vw, noise, frames: int, window: int, sequences: int, seed: int):
    """Fixed validation examples: every validation clip as classify sees it (clean, padded), and
    noisy validation sequences (10–20 dB, the validation part of each noise recording)."""
    rng = np.random.default_rng(seed)
    aug = Augmenter(rng, sc.noise_parts(noise, 'val'), strength=0.5)
    from wave_augment import clip_features, fit
    xc = np.stack([clip_features(fit(w, sc.RATE)) for w in vw])
    yc = np.array([c.label for c in val])
    pool = ClipPool(vw, [c.label for c in val])
    seq = [aug.sequence(pool, frames, window, snr_db=(10, 20)) for _ in range(sequences)]
    xs = np.stack([s[0] for s in seq])
    ys = np.stack([s[1] for s in seq])
    return xc, yc, xs, ys


@torch.no_grad()
def evaluate(model: nn.Module, xc, yc, xs, ys, window: int, first: int) -> dict:
    model.eval()
    pc = torch.cat([torch.softmax(model(torch.from_numpy(xc[i:i + 256])), -1) for i in range(0, len(xc), 256)]).numpy()
    pred = pc.argmax(1)
    cmd = yc >= 2
    ws = torch.cat([torch.softmax(window_logits(model, torch.from_numpy(xs[i:i + 64]), window, first), -1)
                    for i in range(0, len(xs), 64)]).numpy()
    yw = ys[:, first:]
    used = yw != IGNORE
    wpred = ws.argmax(2)
    wcmd = yw >= 2
    return {
        'top1': float((pred[cmd] == yc[cmd]).mean()),
        'accuracy12': float((pred == yc).mean()),
        'false_accept': float((pred[~cmd] >= 2).mean()),
        'window_top1': float((wpred[wcmd] == yw[wcmd]).mean()),
        'window_false_accept': float((wpred[used & ~wcmd] >= 2).mean()),
        'window_accuracy12': float((wpred[used] == yw[used]).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    add_data_options(ap)
    ap.add_argument('--variant', default='lmu_rnn_conv1d', choices=['slmu_rnn_ms_conv1d', 'lmu_rnn_conv1d'])
    ap.add_argument('--dim', type=int, default=64)
    ap.add_argument('--depth', type=int, default=1)
    ap.add_argument('--epochs', type=int, default=40, help='an epoch is --steps-per-epoch steps')
    ap.add_argument('--steps-per-epoch', type=int, default=100)
    ap.add_argument('--batch-clips', type=int, default=48)
    ap.add_argument('--batch-seq', type=int, default=16)
    ap.add_argument('--seq-frames', type=int, default=256)
    ap.add_argument('--window', type=int, default=128)
    ap.add_argument('--first', type=int, default=60)
    ap.add_argument('--phrase-p', type=float, default=0.0, help='share of sequences that are phrases (a command among closely spoken words)')
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--weight-decay', type=float, default=0.02)
    ap.add_argument('--label-smoothing', type=float, default=0.05)
    ap.add_argument('--unknown-p', type=float, default=0.3, help='share of _unknown_ clips in a clip batch')
    ap.add_argument('--silence-p', type=float, default=0.1, help='share of _silence_ clips in a clip batch')
    ap.add_argument('--val-sequences', type=int, default=300)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--init', default=None, help='continue from an official-format checkpoint')
    ap.add_argument('--warm-start', default=None, help='copy matching tensors (not the head) from an edgestream model file')
    ap.add_argument('--init-from-lmu', default=None,
                    help='spiking model: start from a trained lmu_rnn_conv1d checkpoint (its conv filters, W_u, MLP, projection and head)')
    ap.add_argument('--teacher', nargs='+', default=None,
                    help='distil from trained teachers (their softened outputs averaged): lmu_rnn_conv1d checkpoints (best_model.pth; '
                         'on clips and windows) and the CNN of teacher.py (teacher.pt; on clips only: a CNN over every window would '
                         'cost more than the student)')
    ap.add_argument('--kd-weight', type=float, default=0.5, help='share of the distillation term in the clip loss')
    ap.add_argument('--kd-temp', type=float, default=2.0)
    ap.add_argument('--ema', type=float, default=0.0,
                    help='keep an exponential moving average of the weights with this decay (0 = off); evaluated and saved instead of the raw weights')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t_load = time.time()
    train, tw, val, vw, noise = load_split(args)
    print(f'[train] {len(train)} training clips ({len({c.speaker for c in train})} speakers), {len(val)} validation clips '
          f'({len({c.speaker for c in val})} speakers), {len(noise)} noise recordings; loaded in {time.time() - t_load:.0f}s', flush=True)
    xc, yc, xs, ys = build_validation(val, vw, noise, args.seq_frames, args.window, args.val_sequences, seed=1000 + args.seed)
    batches = worker_batches(Batches(tw, [c.label for c in train], sc.noise_parts(noise, 'train'), args))
    model = LmuFormer(args.variant, args.dim, classes=len(sc.LABELS), depths=args.depth)
    if args.init:
        model.load_state_dict({k[len('module.'):]: v for k, v in torch.load(args.init, map_location='cpu').items()})
    if args.init_from_lmu:
        from train import transfer_from_lmu
        copied = transfer_from_lmu(model, torch.load(args.init_from_lmu, map_location='cpu'))
        print(f'[train] ANN-to-SNN start: {copied} copied from {args.init_from_lmu}', flush=True)
    teachers = [load_any_teacher(p) for p in args.teacher or []]
    window_teachers = [t for t in teachers if isinstance(t, LmuFormer)]
    for p, t in zip(args.teacher or [], teachers):
        print(f'[train] distilling from {p} ({type(t).__name__})', flush=True)

    @torch.no_grad()
    def soft_targets(models: list, run) -> torch.Tensor:
        """The teachers' temperature-softened probabilities, averaged (an ensemble is a better teacher than either)."""
        return torch.stack([torch.softmax(run(m) / args.kd_temp, -1) for m in models]).mean(0)

    def distil(student_logits: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        return nn.functional.kl_div(torch.log_softmax(student_logits / args.kd_temp, -1), soft, reduction='batchmean') * args.kd_temp ** 2
    if args.warm_start:
        from model_file import warm_start
        print(f'[train] warm start: {len(warm_start(model, args.warm_start))} tensors from {args.warm_start}', flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'[train] {args.variant} dim {args.dim} depth {args.depth}: {n_params} parameters', flush=True)
    total = args.epochs * args.steps_per_epoch
    opt, sched = one_cycle(model, args.lr, args.weight_decay, total)
    g = torch.Generator().manual_seed(args.seed)
    spec = SpecAugment(g)
    ce = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing, ignore_index=IGNORE)
    ema = WeightAverage(model, args.ema) if args.ema > 0 else None
    log = {'args': vars(args), 'params': n_params, 'evals': []}
    best = -1e9
    t0 = time.time()
    t_data = 0.0
    run = 0.0
    for step in range(total):
        td = time.time()
        xbt, clip_labels, xq, yq = next(batches)  # waits only when the worker is behind
        t_data += time.time() - td
        model.train()
        logits = model(spec(xbt))
        loss = ce(logits, clip_labels)
        if teachers:
            loss = (1 - args.kd_weight) * loss + args.kd_weight * distil(logits, soft_targets(teachers, lambda m: m(xbt)))
        if args.batch_seq:
            wl = window_logits(model, spec(xq), args.window, args.first)
            wloss = ce(wl.reshape(-1, wl.shape[-1]), yq.reshape(-1))
            if window_teachers:
                tw = soft_targets(window_teachers, lambda m: window_logits(m, xq, args.window, args.first))
                wloss = (1 - args.kd_weight) * wloss + args.kd_weight * distil(wl.reshape(-1, wl.shape[-1]), tw.reshape(-1, tw.shape[-1]))
            loss = loss + wloss
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        if ema is not None:
            ema.update(model, step)
        run += float(loss)
        if (step + 1) % args.steps_per_epoch == 0:
            ep = (step + 1) // args.steps_per_epoch
            kept = ema.model if ema is not None else model
            s = evaluate(kept, xc, yc, xs, ys, args.window, args.first)
            s.update(epoch=ep, loss=run / args.steps_per_epoch, seconds=round(time.time() - t0), data_seconds=round(t_data))
            run = 0.0
            score = s['top1'] - s['false_accept'] + s['window_top1'] - s['window_false_accept']
            s['score'] = score
            log['evals'].append(s)
            print(f"[train] epoch {ep}/{args.epochs} loss {s['loss']:.3f} | clips top-1 {s['top1']:.4f} FA {s['false_accept']:.4f} "
                  f"acc12 {s['accuracy12']:.4f} | windows top-1 {s['window_top1']:.4f} FA {s['window_false_accept']:.4f} | "
                  f"{s['seconds']}s ({s['data_seconds']}s waiting for data)", flush=True)
            if score > best:
                best = score
                log['best'] = s
                torch.save(nn.DataParallel(kept).state_dict(), os.path.join(args.out, 'best_model.pth'))
            with open(os.path.join(args.out, 'log.json'), 'w') as f:
                json.dump(log, f, indent=1)
    print(f"[train] done in {time.time() - t0:.0f}s; best {log['best']}", flush=True)


if __name__ == '__main__':
    main()
