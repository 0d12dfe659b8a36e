#!/usr/bin/env bash
# The GPU checks, in one prepared script (< 5 minutes on one modern GPU). Run on a machine with CUDA:
#   bash benchmarks/gpu.sh            (from the repository root, after `make install`)
# It prints: the device, the benchmarks on CUDA, a bf16-mixed run, and a 2-process DDP run on one GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-/tmp/zoo-gpu}
mkdir -p "$OUT"
$PY -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"

echo "== shared trainer vs hand loop on CUDA (MLP, CNN)"
$PY benchmarks/overhead.py --repeats 3 trainer=gpu
$PY benchmarks/overhead.py --repeats 3 trainer=gpu model=cnn

echo "== bf16 autocast: ResNet-20 on digits, 10 epochs"
$PY train.py model=resnet trainer=gpu trainer.precision=bf16-mixed trainer.max_epochs=10 \
  callbacks.progress_bar=null channels_last=true hydra.run.dir="$OUT/bf16" | grep -E "test/acc|fit_seconds|samples_per"

echo "== fp32 reference of the same run"
$PY train.py model=resnet trainer=gpu trainer.max_epochs=10 callbacks.progress_bar=null \
  hydra.run.dir="$OUT/fp32" | grep -E "test/acc|fit_seconds|samples_per"

echo "== DDP: two processes sharing one GPU (nccl cannot share a device; gloo can)"
$PY train.py trainer=ddp trainer.devices=1 trainer.max_epochs=10 callbacks.progress_bar=null \
  hydra.run.dir="$OUT/ddp1" | grep -E "test/acc|fit_seconds|world_size"
$PY train.py trainer=ddp_cpu trainer.devices=2 trainer.max_epochs=10 callbacks.progress_bar=null \
  hydra.run.dir="$OUT/ddp_gloo" | grep -E "test/acc|fit_seconds|world_size"
