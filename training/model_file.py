"""Read the tensors of an edgestream model file (.safetensors: 8-byte header length, JSON header,
raw little-endian data) into a PyTorch state_dict, e.g. to warm-start training from a shipped model."""
from __future__ import annotations

import json
import struct

import numpy as np
import torch

DTYPES = {'F32': np.float32, 'F16': np.float16, 'I8': np.int8, 'I32': np.int32, 'I64': np.int64}


def read_tensors(path: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(name → tensor, __metadata__) of a safetensors file."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info['data_offsets']
        arr = np.frombuffer(data[base + a:base + b], dtype=DTYPES[info['dtype']]).reshape(info['shape'])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def warm_start(model: torch.nn.Module, path: str, skip_prefixes: tuple[str, ...] = ('head.',)) -> list[str]:
    """Copy every tensor of the model file whose name and shape match (the head is left fresh by
    default: another label set). Returns the names copied."""
    src, _ = read_tensors(path)
    dst = model.state_dict()
    copied = []
    for k, v in src.items():
        if k in dst and not k.startswith(skip_prefixes) and dst[k].shape == v.shape:
            dst[k] = v.to(dst[k].dtype)
            copied.append(k)
    model.load_state_dict(dst)
    # Blocks the source did not have start as the identity (their residual branches output zero):
    # the warm-started network computes what the source did, and the new depth is learned from there.
    with torch.no_grad():
        for i, blk in enumerate(getattr(model, 'block', [])):
            if any(k.startswith(f'block.{i}.') for k in copied):
                continue
            for bn in (getattr(blk.attn, 'proj_bn', None), getattr(blk.mlp, 'fc2_bn', None)):
                if isinstance(bn, torch.nn.BatchNorm1d):
                    bn.weight.zero_()
                    bn.bias.zero_()
    return copied
