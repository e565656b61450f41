#!/usr/bin/python3
"""Writes test/fixtures/torch_float32_rope.json: PyTorch's float32 sin/cos/pow results that
models/ttt/float32/torch_trig32.ts, float32/torch_pow32.ts and layers/rope.ts must reproduce bit for bit.

  /usr/bin/python3 models/ttt/tools/gen_trig_fixture.py [out.json]

Every value comes from torch itself (Debian python3-torch 1.13, AVX2, one thread). Arrays are
base64 of little-endian uint32 words (float32 bits). Sections:
  lanes: angles with torch.sin/torch.cos computed (a) alone in their 8-lane vector (other lanes 0;
         only for |angle| < 125, SLEEF's narrow range) and (b) with the other lanes 1000, which
         forces SLEEF's Payne–Hanek path on the whole vector. Covers narrow, medium, huge, tiny,
         near-multiples of pi/2, integer RoPE positions, random bit patterns and inf/nan.
  tables: official RoPE tables (fla for LaCT, ttt.py for TTT) for several head dims and lengths,
          inv_freq and the cos/sin bits of selected rows.
  inv_freq: inv_freq bits for every even head dim up to 256 and several bases (SLEEF powf for
            whole 16-blocks, glibc powf for the rest, as torch splits them).
That torch's kernels are libsleef's Sleef_sinf8_u10/cosf8_u10 is shown by tools/sleef_vs_torch.py.
"""
import base64
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_rope_reference import fla_angles, inv_freq, ttt_angles  # noqa: E402

torch.set_num_threads(1)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test/fixtures/torch_float32_rope.json")
rng = np.random.default_rng(20240613)


def b64(words):
    return base64.b64encode(np.asarray(words, dtype="<u4").tobytes()).decode("ascii")


def f32bits(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def lane_angles():
    parts = [
        rng.uniform(-125, 125, 900),
        [k * math.pi / 2 for k in range(-80, 81)],  # reduction boundaries (rounded to float32 below)
        rng.uniform(124.99, 125.01, 20),
        rng.uniform(125, 1e5, 700) * rng.choice([-1, 1], 700),
        np.exp(rng.uniform(math.log(1e5), math.log(3e38), 300)) * rng.choice([-1, 1], 300),
        np.exp(rng.uniform(math.log(1e-38), math.log(1.0), 150)),
        rng.integers(100, 20000, 300),  # RoPE angles with inv_freq_0 = 1: integer positions
        [0.0, -0.0, 124.99999, 125.0, -125.0, 0.7, -0.7, math.inf, -math.inf, math.nan],
    ]
    x = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts]).astype(np.float32)
    # neighbours of the pi/2 multiples, one and two ulps away
    near = x[900:900 + 161]
    x = np.concatenate([x, np.nextafter(near, np.float32(np.inf)), np.nextafter(near, np.float32(-np.inf))])
    bits_ = rng.integers(0, 0x7f800000, 200, dtype=np.uint32).view(np.float32)  # finite, any exponent
    return np.concatenate([x, bits_, -bits_[:50]]).astype(np.float32)


def in_vectors(x, fill):
    """Each angle in lane 0 of its own 8-lane vector, the other lanes `fill`."""
    t = torch.full((x.size, 8), fill, dtype=torch.float32)
    t[:, 0] = torch.from_numpy(x)
    return t  # contiguous: row i is SLEEF vector i


def lanes():
    x = lane_angles()
    narrow = np.abs(x) < 125
    xn = x[narrow]
    out = {
        "angle": b64(f32bits(x)),
        "wide_sin": b64(f32bits(torch.sin(in_vectors(x, 1000.0))[:, 0].numpy())),
        "wide_cos": b64(f32bits(torch.cos(in_vectors(x, 1000.0))[:, 0].numpy())),
        "narrow_angle": b64(f32bits(xn)),
        "narrow_sin": b64(f32bits(torch.sin(in_vectors(xn, 0.0))[:, 0].numpy())),
        "narrow_cos": b64(f32bits(torch.cos(in_vectors(xn, 0.0))[:, 0].numpy())),
    }
    return out, x.size


TABLES = [
    # fla (LaCT): [rows, dim/2]; rows = max(sequence length, max_position_embeddings)
    {"kind": "fla", "dim": 16, "theta": 10000.0, "rows": 2048},
    {"kind": "fla", "dim": 20, "theta": 10000.0, "rows": 2001},  # half 10: vectors straddle rows; odd end
    {"kind": "fla", "dim": 48, "theta": 1000000.0, "rows": 3000},
    {"kind": "fla", "dim": 64, "theta": 500000.0, "rows": 5000},
    {"kind": "fla", "dim": 128, "theta": 1000000.0, "rows": 4096},
    # ttt.py (TTT): [L, dim], positions t mod K
    {"kind": "ttt", "dim": 16, "theta": 10000.0, "K": 16, "L": 64},
    {"kind": "ttt", "dim": 24, "theta": 10000.0, "K": 200, "L": 400},
    {"kind": "ttt", "dim": 20, "theta": 10000.0, "K": 300, "L": 601},  # f % 8 != 0 and K > 125
    # tables whose last row changes if the table were longer (its last vector is zero-padded)
    {"kind": "fla", "dim": 12, "theta": 10000.0, "rows": 482},
    {"kind": "fla", "dim": 20, "theta": 10000.0, "rows": 214},
    {"kind": "ttt", "dim": 20, "theta": 10000.0, "K": 300, "L": 531},
]


def layout_sensitive_rows(angles, limit=40):
    """Rows whose values differ from the same row computed as a tensor of its own: there the
    grouping of elements into SLEEF vectors across rows decides the result."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    rows = []
    for r in range(angles.shape[0]):
        alone = angles[r].clone()
        if not (torch.equal(torch.cos(alone), cos[r]) and torch.equal(torch.sin(alone), sin[r])):
            rows.append(r)
    return rows[:limit]


def tables():
    out = []
    for case in TABLES:
        if case["kind"] == "fla":
            angles = fla_angles(case["dim"], case["theta"], case["rows"])
            n_rows = case["rows"]
        else:
            angles = ttt_angles(case["dim"], case["theta"], case["K"], case["L"])
            n_rows = case["L"]
        fixed = [0, 1, 2, 7, 15, 62, 63, 64, 123, 124, 125, 126, 127, 128, 199, 200, 299, 300, 301, 500, 1000]
        rows = sorted({r for r in fixed if r < n_rows} | {n_rows - 2, n_rows - 1}
                      | set(rng.integers(0, n_rows, 6).tolist()) | set(layout_sensitive_rows(angles)))
        cos, sin = torch.cos(angles), torch.sin(angles)
        out.append({
            **case,
            "inv_freq": b64(f32bits(inv_freq(case["dim"], case["theta"]).numpy())),
            "rows": rows,
            "cos": b64(f32bits(cos[rows].numpy())),
            "sin": b64(f32bits(sin[rows].numpy())),
        })
        if case["kind"] == "fla":
            out[-1]["table_rows"] = n_rows
    return out


def inverse_frequencies():
    out = []
    for theta in [10000.0, 500000.0, 1000000.0]:
        words = np.concatenate([f32bits(inv_freq(dim, theta).numpy()) for dim in range(2, 257, 2)])
        out.append({"theta": theta, "dims": [2, 256], "bits": b64(words)})
    return out


def main():
    lane_section, n = lanes()
    doc = {
        "about": "PyTorch float32 sin/cos/pow bits for models/ttt (generated by models/ttt/tools/gen_trig_fixture.py)",
        "torch": torch.__version__,
        "cpu_capability": "AVX2",
        "lanes": lane_section,
        "tables": tables(),
        "inv_freq": inverse_frequencies(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {n} lane angles, {len(doc['tables'])} tables, {len(doc['inv_freq'])} inv_freq sets")


if __name__ == "__main__":
    main()
