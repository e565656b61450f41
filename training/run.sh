#!/usr/bin/env bash
# Reproduce the shipped demo models end to end (see training/README.md). Run from the repository root
# after `npm ci` (the `edgestream` CLI in dist/ imports and checks the models).
#   bash training/run.sh            # everything (about 2.5 hours on a shared 2-core machine)
# Every step is deterministic (fixed seeds, one thread); every step prints progress.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}           # Debian's python3 with python3-torch, -torchaudio, -scipy
RUN="nice -n 10 $PY"
DATA=training/data
RUNS=training/runs
DIM=${DIM:-64}
VERSION=${VERSION:-1.0.0}
mkdir -p "$DATA" "$RUNS" models/lmuformer/demo
[ -f dist/cli/main.js ] || node scripts/build.mjs

# 0. the speech synthesizers (Debian packages)
for bin in espeak-ng flite festival text2wave; do command -v $bin >/dev/null || { echo "missing $bin: apt-get install espeak-ng flite festival festvox-kdlpc16k festvox-us-slt-hts"; exit 2; }; done
[ -d /usr/share/festival/voices/english/ked_diphone ] || { echo "missing festival voices: apt-get install festvox-kdlpc16k festvox-us-slt-hts"; exit 2; }

cd training
# 1. base utterances (about 10 min)
[ -f data/base/manifest.json ] || $RUN synth.py --data data --seed 1
# 2. augmented clips + features (about 6 min)
[ -f data/train.npz ] || $RUN build.py --data data --split train --seed 2 --per-keyword 700 --negatives 12000 --strength 0.8 --snr 5 35
[ -f data/test.npz ] || $RUN build.py --data data --split test --seed 3 --per-keyword 60 --negatives 2100 --strength 0.7 --snr 0 30
# 3. train, in stages; each continues from the previous stage's best checkpoint, as the shipped
#    models were made (one thread per process)
T="$RUN train.py --data data --dim $DIM"
SPIKING_EPOCHS_RUN=${SPIKING_EPOCHS_RUN:-3}   # epochs of the spiking run that were completed for the shipped file
$T --variant lmu_rnn_conv1d --epochs 6 --lr 2.5e-3 --bce-weight 5 --seed 0 --out runs/kws35-stage1
$T --variant lmu_rnn_conv1d --epochs 5 --lr 1.5e-3 --bce-weight 20 --seed 1 --init runs/kws35-stage1/best_model.pth --out runs/kws35-stage2
# the last non-spiking stage and the spiking model (warm-started from the stage-2 non-spiking weights) side by side
$T --variant lmu_rnn_conv1d --epochs 5 --lr 1e-3 --bce-weight 20 --seed 2 --init runs/kws35-stage2/best_model.pth --out runs/kws35 > runs/kws35.log 2>&1 &
P1=$!
$T --variant slmu_rnn_ms_conv1d --epochs 4 --stop-after $SPIKING_EPOCHS_RUN --lr 1.5e-3 --bce-weight 5 --seed 3 \
   --init-from-lmu runs/kws35-stage2/best_model.pth --out runs/kws35-spiking > runs/kws35-spiking.log 2>&1 &
P2=$!
tail -f runs/kws35.log runs/kws35-spiking.log --pid=$P2 &
wait $P1 $P2
cd ..
# 4. import through the CLI exactly like a user's checkpoint, then check runtime == PyTorch and evaluate
for m in kws35-spiking:slmu_rnn_ms_conv1d kws35:lmu_rnn_conv1d; do
  name=${m%%:*}; arch=${m##*:}
  node dist/cli/main.js import training/runs/$name/best_model.pth --arch $arch \
    --name "lmuformer-$name" --model-version "$VERSION" -o models/lmuformer/demo/$name.safetensors
  thr=$($PY -c "import json;print(round(json.load(open('training/runs/$name/log.json'))['best']['threshold'],2))")
  (cd training && $RUN verify.py --checkpoint runs/$name/best_model.pth --model ../models/lmuformer/demo/$name.safetensors \
     --variant $arch --n 64 --out runs/$name/verify.json)
  (cd training && $RUN evaluate.py --checkpoint runs/$name/best_model.pth --model ../models/lmuformer/demo/$name.safetensors \
     --variant $arch --threshold $thr --out runs/$name/eval.json)
done
# 5. fixtures (held-out voices)
(cd training && $RUN fixtures.py)
# 6. reference outputs of the shipped models on a few fixture clips (the runtime's tests compare against them)
(cd training && $RUN demo_golden.py)
