#!/usr/bin/env bash
# The GPU checks, in one prepared script (about 5 minutes on one H100/H200). On a machine with CUDA:
#   bash benchmarks/gpu.sh            (from the repository root, after `make install`)
# PY=python3 uses another interpreter (one that has the zoo's dependencies). Prints: the device, the
# four benchmark families on CUDA (shared trainer vs hand loop), fp32 vs bf16-mixed (+ channels_last)
# for ResNet-20, the DDP code path on the GPU (one process, nccl) and two gloo processes, and the
# generative models on CUDA. Every run's folder lands under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-/tmp/zoo-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
SHOW="test/|fit_seconds|samples_per|world_size|seconds_to_first"
$PY -c "import torch, lightning; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__, '| lightning', lightning.__version__)"

echo "== shared trainer vs hand loop on CUDA: MLP, CNN, RealNVP (moons), LSTM LM"
$PY benchmarks/overhead.py --repeats 1 trainer=gpu
$PY benchmarks/overhead.py --repeats 1 trainer=gpu model=cnn
$PY benchmarks/overhead.py --repeats 1 trainer=gpu model=realnvp data=moons
$PY benchmarks/lstm_lm.py --repeats 1 trainer=gpu

echo "== ResNet-20 on digits, 10 epochs: fp32, then bf16-mixed with channels_last"
$PY train.py model=resnet trainer=gpu trainer.max_epochs=10 callbacks.progress_bar=null \
  hydra.run.dir="$OUT/fp32" | grep -E "$SHOW"
$PY train.py model=resnet trainer=gpu trainer.precision=bf16-mixed channels_last=true trainer.max_epochs=10 \
  callbacks.progress_bar=null hydra.run.dir="$OUT/bf16" | grep -E "$SHOW"

echo "== DDP: the nccl code path in one process on the GPU, then two gloo processes"
$PY train.py trainer=ddp trainer.devices=1 trainer.max_epochs=10 callbacks.progress_bar=null \
  hydra.run.dir="$OUT/ddp_nccl" | grep -E "$SHOW"
$PY train.py trainer=ddp_cpu trainer.devices=2 trainer.max_epochs=10 callbacks.progress_bar=null \
  hydra.run.dir="$OUT/ddp_gloo" | grep -E "$SHOW"

echo "== generative models on CUDA: GAN (ring), DCGAN (digits, bf16), RealNVP (digits) + outliers"
$PY train.py model=gan data=ring trainer=gpu callbacks.progress_bar=null hydra.run.dir="$OUT/gan" | grep -E "$SHOW"
$PY train.py model=dcgan data=digits trainer=gpu trainer.precision=bf16-mixed callbacks.progress_bar=null \
  hydra.run.dir="$OUT/dcgan" | grep -E "$SHOW"
$PY train.py model=realnvp data=digits trainer=gpu callbacks.progress_bar=null hydra.run.dir="$OUT/realnvp" \
  | grep -E "$SHOW"
$PY evaluate.py ckpt_path="$OUT/realnvp/checkpoints/best.ckpt" trainer=gpu "ood=[noise,flip,invert]" \
  hydra.run.dir="$OUT/realnvp_ood" | grep -E "ood/|test/"
