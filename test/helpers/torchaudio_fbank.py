"""Reference features for the front-end tests: torchaudio.compliance.kaldi.fbank on WAV files.

Usage: python3 torchaudio_fbank.py jobs.json
jobs.json: [{"wav": path, "out": path.npy, "kwargs": {fbank keyword arguments}, "double": bool}, ...]
The waveform is loaded with torchaudio.load (float32 in [-1, 1]) and its first channel used.
With "double", the same float32 samples go through fbank in float64 (torch's own float32
rounding removed); the log floor stays at float32 eps, as in the float32 computation.
"""
import json
import sys

import numpy as np
import torch
import torchaudio


def main() -> None:
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        wave, rate = torchaudio.load(job["wav"])
        wave = wave[:1].double() if job.get("double") else wave[:1]
        fbank = torchaudio.compliance.kaldi.fbank(wave, sample_frequency=float(rate), **job["kwargs"])
        if job.get("double"):
            fbank = torch.clamp(fbank, min=float(np.log(np.finfo(np.float32).eps)))
        np.save(job["out"], fbank.numpy().astype(np.float32))
    print(f"torch {torch.__version__} torchaudio {torchaudio.__version__}: {len(jobs)} jobs")


if __name__ == "__main__":
    main()
