#!/usr/bin/env bash
# Reproduce the shipped demo models end to end (see training/README.md). Run from the repository root
# after `npm ci` (the `edgestream` CLI in dist/ imports and checks the models).
#   bash training/run_synthetic.sh  # everything (about 4 hours on a 2-core machine)
# This is the recipe of the synthetic-speech kws35 models (round 2). The shipped 12-class models
# trained on real recordings come from training/run.sh, which starts from kws35.
# Every step is deterministic for its seed; every step prints progress. Steps whose output exists are
# skipped (delete training/data or training/runs to redo them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}           # Debian's python3 with python3-torch, -torchaudio, -scipy
RUN="nice -n 10 $PY"
VERSION=${VERSION:-2.0.0}
mkdir -p training/data training/runs models/lmuformer/demo
[ -f dist/cli/main.js ] || node scripts/build.mjs

# 0. the speech synthesizers (Debian packages)
for bin in espeak-ng flite festival text2wave; do command -v $bin >/dev/null || { echo "missing $bin: apt-get install espeak-ng flite festival festvox-kdlpc16k festvox-us-slt-hts"; exit 2; }; done
[ -d /usr/share/festival/voices/english/ked_diphone ] || { echo "missing festival voices: apt-get install festvox-kdlpc16k festvox-us-slt-hts"; exit 2; }

cd training
# 1. base utterances (about 10 min)
[ -f data/base/manifest.json ] || $RUN synth.py --data data --seed 1
# 2. data (about 10 min on 2 cores). Voices: train / validation (vocab.is_validation) / held-out test.
#    Training: 70,000 sequences of 2.56 s of continuous audio with per-frame window labels, in two
#    shards built side by side.
for s in 0 1; do
  [ -f data/train-seq$s.npz ] || $RUN build.py --data data --split train --sequences --frames 256 --seed 12 --per-keyword 1400 \
      --negatives 21000 --strength 0.9 --snr 3 35 --speed 0.8 1.22 --shard $s --shards 2 &
done
wait
[ -f data/val-seq.npz ] || $RUN build.py --data data --split val --sequences --frames 256 --seed 13 --per-keyword 40 --negatives 700 --strength 0.7 --snr 0 30
[ -f data/val.npz ] || $RUN build.py --data data --split val --seed 14 --per-keyword 40 --negatives 1400 --strength 0.7 --snr 0 30
# held-out test: the round-1 clip set (same command and seed) plus sequences and a 10-minute stream
[ -f data/test.npz ] || $RUN build.py --data data --split test --seed 3 --per-keyword 60 --negatives 2100 --strength 0.7 --snr 0 30
[ -f data/test-seq.npz ] || $RUN build.py --data data --split test --sequences --frames 256 --seed 23 --per-keyword 40 --negatives 700 --strength 0.7 --snr 0 30
[ -f data/val-stream.wav ] || $RUN build.py --data data --split val --stream 300 --seed 21 --strength 0.7 --snr 5 30
[ -f data/test-stream.wav ] || $RUN build.py --data data --split test --stream 600 --seed 22 --strength 0.7 --snr 5 30

# 3. training, in two parts (one thread per process).
#  a) whole-clip training (round 1; train_clips.py): three stages on 36,500 clips, each continuing
#     from the previous stage's best checkpoint
[ -f data/train.npz ] || $RUN build.py --data data --split train --seed 2 --per-keyword 700 --negatives 12000 --strength 0.8 --snr 5 35
C="$RUN train_clips.py --data data --dim 64 --variant lmu_rnn_conv1d"
[ -f runs/kws35-stage1/best_model.pth ] || $C --epochs 6 --lr 2.5e-3 --bce-weight 5 --seed 0 --out runs/kws35-stage1
[ -f runs/kws35-stage2/best_model.pth ] || $C --epochs 5 --lr 1.5e-3 --bce-weight 20 --seed 1 --init runs/kws35-stage1/best_model.pth --out runs/kws35-stage2
[ -f runs/kws35-clips/best_model.pth ] || $C --epochs 5 --lr 1e-3 --bce-weight 20 --seed 2 --init runs/kws35-stage2/best_model.pth --out runs/kws35-clips
#  b) continuous-stream training (train.py): sequences with per-frame window labels and the windowed
#     head, continuing from the clip model; the spiking model starts from its conv/MLP/head weights.
#     Side by side on the two cores (about 35 and 50 min). --max-minutes only guards against a much
#     slower machine: both shipped runs completed their epochs.
T="$RUN train.py --data data"
[ -f runs/kws35/best_model.pth ] || $T --variant lmu_rnn_conv1d --dim 64 --init runs/kws35-clips/best_model.pth \
    --epochs 4 --lr 1.5e-3 --threads 1 --seed 0 --max-minutes 60 --out runs/kws35 > runs/kws35.log 2>&1 &
[ -f runs/kws35-spiking/best_model.pth ] || $T --variant slmu_rnn_ms_conv1d --dim 64 --init-from-lmu runs/kws35-clips/best_model.pth \
    --frames 192 --epochs 3 --lr 2e-3 --threads 1 --seed 3 --max-minutes 70 --out runs/kws35-spiking > runs/kws35-spiking.log 2>&1 &
wait
cd ..

# 4. import through the CLI exactly like a user's checkpoint, with the threshold calibrated on the
#    validation voices; then check runtime == PyTorch and evaluate on the held-out voices
for m in kws35-spiking:slmu_rnn_ms_conv1d kws35:lmu_rnn_conv1d; do
  name=${m%%:*}; arch=${m##*:}
  thr=$(cd training && $RUN calibrate.py --checkpoint runs/$name/best_model.pth --variant $arch --val-fa 0.03)
  node dist/cli/main.js import training/runs/$name/best_model.pth --arch $arch --threshold $thr \
    --name "lmuformer-$name" --model-version "$VERSION" -o models/lmuformer/demo/$name.safetensors
  (cd training && $RUN verify.py --checkpoint runs/$name/best_model.pth --model ../models/lmuformer/demo/$name.safetensors \
     --variant $arch --n 64 --out runs/$name/verify.json)
  (cd training && $RUN evaluate.py --checkpoint runs/$name/best_model.pth --model ../models/lmuformer/demo/$name.safetensors \
     --variant $arch --threshold $thr --out runs/$name/eval.json)
  for split in val test; do
    node training/stream_eval.mjs models/lmuformer/demo/$name.safetensors training/data/$split-stream.wav \
      --json training/runs/$name/stream-$split.json
  done
done
# 5. fixtures (held-out voices)
(cd training && $RUN fixtures.py)
# 6. reference outputs of the shipped models on a few fixture clips (the runtime's tests compare against them)
(cd training && $RUN demo_golden.py)
