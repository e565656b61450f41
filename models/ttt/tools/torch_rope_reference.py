#!/usr/bin/python3
"""PyTorch's own float32 RoPE numbers, the ground truth for models/ttt/float32/torch_trig32.ts and models/ttt/layers/rope.ts.

Every table here is built the way the official codes build it (ttt.py RotaryEmbedding, fla's
RotaryEmbedding used by LaCT) on this machine's torch (Debian python3-torch 1.13, AVX2, one thread).

  /usr/bin/python3 models/ttt/tools/torch_rope_reference.py dump <spec.json> <out_dir>

writes, for each case of the spec, <out_dir>/<i>.bin: little-endian uint32 words
  [n, angles(n), cos(n), sin(n), m, inv_freq(m)]   (float32 bits; m = 0 for the "flat" case)
with the cases
  {"kind": "flat", "n": N, "seed": S}                 N mixed-magnitude angles in one flat tensor
  {"kind": "fla", "dim": D, "theta": T, "rows": R}    outer(arange(R), inv_freq), shape [R, D/2]
  {"kind": "ttt", "dim": D, "theta": T, "K": K, "L": L}  cat(freqs, freqs), positions arange(L) % K, [L, D]
"""
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)  # the layout PyTorch uses here by default (one thread, 8-lane groups from 0)


def inv_freq(dim, theta):
    """Both official codes: 1.0 / (base ** (arange(0, dim, 2) / dim)) in float32."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def fla_angles(dim, theta, rows):
    """fla RotaryEmbedding._update_cos_sin_cache: t = arange(rows) in float32, freqs = outer(t, inv_freq)."""
    t = torch.arange(rows, dtype=torch.float32)
    return torch.outer(t, inv_freq(dim, theta))


def ttt_angles(dim, theta, K, L):
    """ttt.py RotaryEmbedding.forward with position_ids = arange(L) % K (batch 1)."""
    inv = inv_freq(dim, theta)
    pos = (torch.arange(L) % K)[None, :]
    inv_expanded = inv[None, :, None].float().expand(1, -1, 1)
    freqs = (inv_expanded.float() @ pos[:, None, :].float()).transpose(1, 2)
    return torch.cat((freqs, freqs), dim=-1)[0]


def flat_angles(n, seed):
    """Angles across 0..1e5 mixing magnitudes, so that vectors mix narrow and wide lanes."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, generator=g, dtype=torch.float64) * 1e5
    scale = torch.pow(10.0, -torch.randint(0, 6, (n,), generator=g).double())
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    return (a * scale * sign).float()


def case_tensors(case):
    kind = case["kind"]
    if kind == "flat":
        return flat_angles(case["n"], case["seed"]), None
    if kind == "fla":
        return fla_angles(case["dim"], case["theta"], case["rows"]), inv_freq(case["dim"], case["theta"])
    if kind == "ttt":
        return ttt_angles(case["dim"], case["theta"], case["K"], case["L"]), inv_freq(case["dim"], case["theta"])
    raise ValueError(f"unknown case kind {kind!r}")


def bits(t):
    return t.contiguous().numpy().astype(np.float32).view(np.uint32).ravel()


def dump(spec_path, out_dir):
    with open(spec_path) as f:
        cases = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    for i, case in enumerate(cases):
        angles, inv = case_tensors(case)
        words = [np.array([angles.numel()], np.uint32), bits(angles), bits(torch.cos(angles)), bits(torch.sin(angles))]
        inv_bits = bits(inv) if inv is not None else np.zeros(0, np.uint32)
        words += [np.array([inv_bits.size], np.uint32), inv_bits]
        np.concatenate(words).astype("<u4").tofile(os.path.join(out_dir, f"{i}.bin"))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "dump":
        sys.exit(__doc__)
    dump(sys.argv[2], sys.argv[3])
