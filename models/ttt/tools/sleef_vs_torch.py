#!/usr/bin/python3
"""Shows which SLEEF kernel and which lane grouping torch.sin/torch.cos use for float32 tensors.

  /usr/bin/python3 models/ttt/tools/sleef_vs_torch.py

Compiles a tiny C shim (gcc, -mavx2) that calls libsleef.so.3's 8-lane kernels on consecutive
groups of 8 elements (the last group zero-padded) and compares with torch on tensors of awkward
lengths: torch equals Sleef_sinf8_u10/Sleef_cosf8_u10 grouped that way, bit for bit, and not the
u35 kernels. That is the model torch_trig32.ts emulates.
"""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

SHIM = r"""
#include <immintrin.h>
#include <string.h>
__m256 Sleef_sinf8_u10(__m256); __m256 Sleef_cosf8_u10(__m256);
__m256 Sleef_sinf8_u35(__m256); __m256 Sleef_cosf8_u35(__m256);
void groups_of_8(int kernel, const float *in, float *out, long n) {
  for (long i = 0; i < n; i += 8) {
    float lane[8] = {0};
    long m = n - i < 8 ? n - i : 8;
    memcpy(lane, in + i, m * sizeof(float));
    __m256 v = _mm256_loadu_ps(lane);
    v = kernel == 0 ? Sleef_sinf8_u10(v) : kernel == 1 ? Sleef_cosf8_u10(v)
      : kernel == 2 ? Sleef_sinf8_u35(v) : Sleef_cosf8_u35(v);
    _mm256_storeu_ps(lane, v);
    memcpy(out + i, lane, m * sizeof(float));
  }
}
"""


def build_shim(tmp):
    src = os.path.join(tmp, "shim.c")
    lib = os.path.join(tmp, "shim.so")
    with open(src, "w") as f:
        f.write(SHIM)
    subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-shared", "-fPIC", "-o", lib, src, "-l:libsleef.so.3"], check=True)
    return ctypes.CDLL(lib)


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            lib = build_shim(tmp)
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit(f"cannot build the libsleef shim (needs gcc and libsleef3): {e}")
        ptr = ctypes.POINTER(ctypes.c_float)

        def sleef(kernel, x):
            out = np.empty_like(x)
            lib.groups_of_8(kernel, x.ctypes.data_as(ptr), out.ctypes.data_as(ptr), ctypes.c_long(x.size))
            return out

        rng = np.random.default_rng(7)
        for n in [13, 1003, 100_001, 1_000_003]:
            x = (rng.uniform(-1e5, 1e5, n) * 10.0 ** -rng.integers(0, 6, n)).astype(np.float32)
            t = torch.from_numpy(x)
            ts, tc = torch.sin(t).numpy(), torch.cos(t).numpy()
            counts = {name: int((sleef(k, x).view(np.uint32) != ref.view(np.uint32)).sum())
                      for name, k, ref in [("sin u10", 0, ts), ("cos u10", 1, tc), ("sin u35", 2, ts), ("cos u35", 3, tc)]}
            print(f"n = {n}: mismatches vs torch {counts}")


if __name__ == "__main__":
    main()
