"""Step 4: accuracy on the held-out voices, from PyTorch and from the shipped model file through
`edgestream predict` (the runtime streams each clip frame by frame). Decision rule: a clip is
accepted as a keyword when the highest sigmoid score over the 35 labels on the final all_seq frame
(the whole-clip output) reaches the threshold; top-1 is the argmax over the 35 labels.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

import vocab
from train import predict_windows, summarize, summarize_sequences
from verify import load_checkpoint, runtime_predict


def per_kind(scores: np.ndarray, y: np.ndarray, kinds: np.ndarray, thr: float) -> dict:
    out = {}
    for k in sorted(set(kinds.tolist())):
        m = kinds == k
        s = summarize(scores[m], y[m], thr)
        out[k] = {key: s[key] for key in ('keyword_top1', 'false_accept', 'keywords', 'non_keywords') if s[key] == s[key]}
    return out


def per_voice(scores: np.ndarray, y: np.ndarray, voices: np.ndarray, thr: float) -> dict:
    out = {}
    for v in sorted(set(voices.tolist())):
        m = voices == v
        s = summarize(scores[m], y[m], thr)
        out[v] = {key: round(s[key], 4) for key in ('keyword_top1', 'keyword_detected_at_threshold', 'false_accept') if s[key] == s[key]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--model', required=True, help='the imported .safetensors')
    ap.add_argument('--variant', required=True)
    ap.add_argument('--threshold', type=float, required=True)
    ap.add_argument('--test', default=os.path.join(os.path.dirname(__file__), 'data', 'test.npz'))
    ap.add_argument('--test-seq', default=os.path.join(os.path.dirname(__file__), 'data', 'test-seq.npz'),
                    help='held-out sequences with window labels (stream-like figures of the windowed head)')
    ap.add_argument('--window', type=int, default=128)
    ap.add_argument('--runtime-clips', type=int, default=0, help='clips to run through edgestream predict (0 = all)')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    d = np.load(args.test)
    x, y, kinds = d['x'], d['y'].astype(np.int64), d['kind']
    voices = d['group'] if 'group' in d else np.array(['all'] * len(y))
    model = load_checkpoint(args.checkpoint, args.variant)
    with torch.no_grad():
        scores = np.concatenate([torch.sigmoid(model(torch.from_numpy(x[i:i + 256].astype(np.float32)))).numpy()
                                 for i in range(0, len(y), 256)])
    report = {'threshold': args.threshold, 'torch': summarize(scores, y, args.threshold),
              'torch_by_kind': per_kind(scores, y, kinds, args.threshold),
              'torch_by_voice_group': per_voice(scores, y, voices, args.threshold)}
    if os.path.exists(args.test_seq):
        ds = np.load(args.test_seq)
        first = 31
        ws = predict_windows(model, ds['x'], args.window, first)
        ys = ds['y'][:, first:].astype(np.int64)
        report['torch_windowed_sequences'] = summarize_sequences(ws, ys, args.threshold)
        report['torch_windowed_sequences_by_voice_group'] = {
            g: {k: round(v, 4) for k, v in summarize_sequences(ws[ds['group'] == g], ys[ds['group'] == g], args.threshold).items() if v == v}
            for g in sorted(set(ds['group'].tolist()))}
    sweep = {}
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        s = summarize(scores, y, t)
        sweep[str(t)] = {'detected': round(s['keyword_detected_at_threshold'], 4), 'false_accept': round(s['false_accept'], 4)}
    report['torch_threshold_sweep'] = sweep
    conf = np.zeros((len(vocab.LABELS), len(vocab.LABELS)), int)
    pos = y >= 0
    for t, p in zip(y[pos], scores[pos].argmax(1)):
        conf[t, p] += 1
    report['worst_keywords'] = sorted(({'label': vocab.LABELS[i], 'top1': round(conf[i, i] / max(1, conf[i].sum()), 3),
                                        'most_confused_with': vocab.LABELS[int(np.argsort(conf[i])[-2])]}
                                       for i in range(len(vocab.LABELS))), key=lambda r: r['top1'])[:6]
    idx = np.arange(len(y))
    if args.runtime_clips and args.runtime_clips < len(y):
        idx = np.sort(np.random.default_rng(0).choice(len(y), args.runtime_clips, replace=False))
    outs = []
    for i in range(0, len(idx), 512):
        outs.append(runtime_predict(args.model, x[idx[i:i + 512]].astype(np.float32)))
        print(f'[eval] runtime: {min(i + 512, len(idx))}/{len(idx)} clips', flush=True)
    rt_logits = np.concatenate(outs, axis=1)  # [frames, n, classes]
    rt_scores = 1 / (1 + np.exp(-rt_logits[-1].astype(np.float64)))
    report['runtime'] = summarize(rt_scores, y[idx], args.threshold)
    report['runtime_vs_torch'] = {
        'clips': int(len(idx)),
        'final_score_max_abs_diff': float(np.abs(rt_scores - scores[idx]).max()),
        'same_top1': float((rt_scores.argmax(1) == scores[idx].argmax(1)).mean()),
        'same_accept_decision': float(((rt_scores.max(1) >= args.threshold) == (scores[idx].max(1) >= args.threshold)).mean()),
    }
    # accuracy versus the fraction of the clip heard (all_seq frames), from the runtime outputs
    curve = {}
    for f in (32, 48, 64, 80, 96, 112, 128):
        s = 1 / (1 + np.exp(-rt_logits[f - 1].astype(np.float64)))
        curve[f] = round(summarize(s, y[idx], args.threshold)['keyword_top1'], 4)
    report['runtime_top1_by_frames_heard'] = curve
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=1)
    print(json.dumps({k: report[k] for k in ('threshold', 'torch', 'torch_by_voice_group', 'torch_windowed_sequences', 'runtime', 'runtime_vs_torch',
                                             'runtime_top1_by_frames_heard') if k in report}, indent=1))


if __name__ == '__main__':
    main()
