#!/usr/bin/python3
"""A float64 PyTorch re-implementation of LaCT's LM layer (LaCTSWIGLULayer.forward, no cache), written
from specs/ttt.md §4 the way the golden vectors were made: exact masked-softmax attention for
flash_attn, lr/momentum kept in float64, and fla's RoPE cache computed in float32 by torch (the part
this tool exists for). It makes golden files of any length in the format of /work/shared/golden/ttt.

  /usr/bin/python3 models/ttt/tools/lact_layer_reference.py check <golden.json>
      re-runs a golden's input with its parameters; prints the max abs difference to its outputs
      (validates this re-implementation against the official code's numbers)
  /usr/bin/python3 models/ttt/tools/lact_layer_reference.py make <golden.json> <tokens> <out.json> [seed [config]]
      same parameters and config, a new random input of <tokens> tokens (seeded), its outputs; with a
      JSON object `config` of overrides (e.g. '{"hidden_size": 80}') the parameters are drawn anew
      (seeded, at the golden's scales) for the overridden configuration

Only post-norm LaCT without Muon (the `lact_layer` golden's configuration) is implemented.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # the one-thread layout torch_trig32.ts models (and this machine's default)


def load(path):
    with open(path) as f:
        doc = json.load(f)
    params = {k: torch.tensor(v["data"], dtype=torch.float64).reshape(v["shape"]) for k, v in doc["params"].items()}
    return doc, params


def fla_rope_cache(head_dim, theta, rows):
    """fla RotaryEmbedding: inv_freq, positions, angles, cos and sin all in float32, then widened."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(rows, dtype=torch.float32), inv)
    return torch.cos(freqs).double(), torch.sin(freqs).double()


def rotate(x, cos, sin):
    """Rotate-half RoPE on [L, heads, head_dim] with cos/sin [L, head_dim/2] (fla, non-interleaved)."""
    half = cos.shape[-1]
    c, s = cos[:, None, :], sin[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c + (-x2) * s, x2 * c + x1 * s], dim=-1)


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def l2_norm(x):
    return x / (x.norm(dim=-1, keepdim=True) + 1e-5)


def sliding_window_attention(q, k, v, window):
    """Causal attention over keys t − window + 1 … t, per head; q, k, v: [L, heads, d]."""
    L, _, d = q.shape
    scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
    i = torch.arange(L)[:, None]
    j = torch.arange(L)[None, :]
    allowed = (j <= i) & (j > i - window)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.einsum("hij,jhd->ihd", torch.softmax(scores, dim=-1), v)


def block_causal_swiglu(w0, w1, w2, q, k, v, lr0, lr1, lr2, chunk, momentum):
    """ttt_operation.block_causal_lact_swiglu (post-norm, no Muon), float64: apply then update per chunk."""
    n0, n1, n2 = (w.norm(dim=2, keepdim=True) for w in (w0, w1, w2))
    m0, m1, m2 = torch.zeros_like(w0), torch.zeros_like(w1), torch.zeros_like(w2)
    q, v = q.transpose(1, 2), v.transpose(1, 2)
    out = torch.zeros_like(v)
    L = k.shape[1]
    end = 0
    for s in range(0, L - chunk, chunk):
        end = s + chunk
        ki, vi, qi = k[:, s:end, :], v[:, :, s:end], q[:, :, s:end]
        out[:, :, s:end] = torch.bmm(w1, F.silu(torch.bmm(w0, qi)) * torch.bmm(w2, qi))
        gate_pre = torch.bmm(w0, ki.transpose(1, 2))
        hidden_pre = torch.bmm(w2, ki.transpose(1, 2))
        hidden = F.silu(gate_pre) * hidden_pre
        dhidden = torch.bmm(w1.transpose(1, 2), vi)
        dhidden_pre = dhidden * F.silu(gate_pre)
        sig = torch.sigmoid(gate_pre)
        dgate_pre = dhidden * hidden_pre * sig * (1 + gate_pre * (1 - sig))
        dw1 = torch.bmm(vi, hidden.transpose(1, 2) * lr1[:, s:end, :])
        dw0 = torch.bmm(dgate_pre, ki * lr0[:, s:end, :])
        dw2 = torch.bmm(dhidden_pre, ki * lr2[:, s:end, :])
        if momentum is not None:
            mi = momentum[:, s:end, :].mean(dim=1, keepdim=True)
            dw0, dw1, dw2 = dw0 + m0 * mi, dw1 + m1 * mi, dw2 + m2 * mi
            m0, m1, m2 = dw0, dw1, dw2
        w0, w1, w2 = w0 + dw0, w1 + dw1, w2 + dw2
        w0 = w0 / (w0.norm(dim=2, keepdim=True) + 1e-5) * n0
        w1 = w1 / (w1.norm(dim=2, keepdim=True) + 1e-5) * n1
        w2 = w2 / (w2.norm(dim=2, keepdim=True) + 1e-5) * n2
    qi = q[:, :, end:L]
    out[:, :, end:L] = torch.bmm(w1, F.silu(torch.bmm(w0, qi)) * torch.bmm(w2, qi))
    return out.transpose(1, 2)


def lact_layer(P, cfg, x):
    """LaCTSWIGLULayer.forward for one sequence x [L, C] (float64)."""
    if cfg.get("use_muon") or cfg.get("ttt_prenorm") or cfg.get("attn_qk_norm") or cfg.get("qkv_bias"):
        raise SystemExit("only the post-norm, no-Muon, no-qk-norm, no-qkv-bias configuration is implemented")
    L, C = x.shape
    Ha, nf = cfg["num_attn_heads"], cfg["num_lact_heads"]
    Da, d = C // Ha, C // nf
    q, k, v = (x @ P["qkv.weight"].T).chunk(3, dim=-1)
    fq = q * P["qk_scale"][:, 0] + P["qk_offset"][:, 0]
    fk = k * P["qk_scale"][:, 1] + P["qk_offset"][:, 1]
    fv = v

    rows = max(L, cfg.get("max_position_embeddings") or 0)
    cos, sin = fla_rope_cache(Da, cfg["rope_theta"], rows)
    cos, sin = cos[:L], sin[:L]
    heads = lambda t, n: t.reshape(L, n, C // n)  # noqa: E731
    o = sliding_window_attention(rotate(heads(q, Ha), cos, sin), rotate(heads(k, Ha), cos, sin), heads(v, Ha), cfg["window_size"])
    o = o.reshape(L, C)

    if cfg.get("qkv_silu", True):
        fq, fk = F.silu(fq), F.silu(fk)
        if not cfg.get("no_v_silu", False):
            fv = F.silu(fv)
    fq, fk = l2_norm(heads(fq, nf)).reshape(L, C), l2_norm(heads(fk, nf)).reshape(L, C)
    if not cfg.get("ttt_nope", False):
        fq = rotate(heads(fq, Ha), cos, sin).reshape(L, C)
        fk = rotate(heads(fk, Ha), cos, sin).reshape(L, C)
    per_head = lambda t: heads(t, nf).transpose(0, 1)  # noqa: E731  [nf, L, d]

    r = cfg["w0_w2_low_rank"]
    eye = torch.eye(d, dtype=torch.float64)[None] * 0.5
    w0 = P["w0.w_left"] @ P["w0.w_right"] + eye if r > 0 else P["w0"]
    w2 = P["w2.w_left"] @ P["w2.w_right"] + eye if r > 0 else P["w2"]
    base_lr_inv = 0.001 + math.log(-math.expm1(-0.001))
    lr = F.softplus(x @ P["lr_proj.weight"].T + P["lr_proj.bias"] + base_lr_inv)  # float64 (golden patch)
    lr = lr.reshape(L, nf, 3).transpose(0, 1)  # [nf, L, 3]
    mom = None
    if cfg.get("use_momentum"):
        mom = torch.sigmoid(x @ P["momentum_proj.0.weight"].T + P["momentum_proj.0.bias"]).T[:, :, None]
    fw = block_causal_swiglu(w0, P["w1"], w2, per_head(fq), per_head(fk), per_head(fv),
                             lr[:, :, 0:1], lr[:, :, 1:2], lr[:, :, 2:3], cfg["lact_chunk_size"], mom)
    y = rms_norm(fw, P["ttt_norm.weight"], 1e-5)
    if cfg.get("learnable_ttt_scale"):
        y = y * F.silu(x @ P["ttt_scale_proj.weight"].T + P["ttt_scale_proj.bias"]).T[:, :, None]
    y = y.transpose(0, 1).reshape(L, C)
    return (o + y) @ P["o_proj.weight"].T


def random_params(cfg, seed):
    """Parameters for `cfg` at roughly the scales of the official golden (fast weights perturbed from init)."""
    g = torch.Generator().manual_seed(seed + 1)
    C, nf, r = cfg["hidden_size"], cfg["num_lact_heads"], cfg["w0_w2_low_rank"]
    d = C // nf
    dh = int(d * cfg["inter_multi"])
    normal = lambda std, *shape: torch.randn(*shape, generator=g, dtype=torch.float64) * std  # noqa: E731
    P = {
        "qkv.weight": normal(0.07, 3 * C, C), "o_proj.weight": normal(0.07, C, C),
        "qk_scale": 1 + normal(0.1, C, 2), "qk_offset": normal(0.1, C, 2),
        "w1": normal(0.17, nf, d, dh),
        "lr_proj.weight": normal(0.3, 3 * nf, C), "lr_proj.bias": normal(0.3, 3 * nf),
        "ttt_scale_proj.weight": normal(0.07, nf, C), "ttt_scale_proj.bias": normal(0.05, nf),
        "ttt_norm.weight": torch.ones(d, dtype=torch.float64),
        "momentum_proj.0.weight": normal(0.07, nf, C), "momentum_proj.0.bias": 0.06 + normal(0.001, nf),
    }
    for w in ("w0", "w2"):
        if r > 0:
            P[f"{w}.w_left"], P[f"{w}.w_right"] = normal(0.18, nf, dh, r), normal(0.09, nf, r, d)
        else:
            P[w] = normal(1 / math.sqrt(d), nf, dh, d)
    return P


def tensor_json(t):
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("check", "make"):
        sys.exit(__doc__)
    doc, P = load(sys.argv[2])
    cfg = doc["meta"]["config"]
    if sys.argv[1] == "check":
        x = torch.tensor(doc["inputs"]["x"]["data"], dtype=torch.float64).reshape(doc["inputs"]["x"]["shape"])
        want = torch.tensor(doc["outputs"]["y"]["data"], dtype=torch.float64).reshape(doc["outputs"]["y"]["shape"])
        got = torch.stack([lact_layer(P, cfg, xb) for xb in x])
        print(f"max abs difference to {sys.argv[2]}: {(got - want).abs().max().item():.3e} (outputs up to {want.abs().max().item():.3f})")
        return
    tokens, out = int(sys.argv[3]), sys.argv[4]
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    overrides = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
    source = f"parameters and config of {sys.argv[2]}"
    if overrides:
        cfg = {**cfg, **overrides}
        P = random_params(cfg, seed)
        source = f"config of {sys.argv[2]} with {json.dumps(overrides)}, random parameters (seed {seed})"
    x = torch.randn(tokens, cfg["hidden_size"], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = lact_layer(P, cfg, x)
    meta = {**doc["meta"], "config": cfg}
    meta["source"] = f"models/ttt/tools/lact_layer_reference.py (re-implementation of {doc['meta'].get('source')}; {source})"
    meta["call"] = f"layer(x)[0] with {tokens} random tokens (seed {seed})"
    meta.pop("calibration", None)
    result = {
        "meta": meta,
        "params": {k: tensor_json(v) for k, v in P.items()},
        "inputs": {"x": tensor_json(x[None])},
        "outputs": {"y": tensor_json(y[None])},
    }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
