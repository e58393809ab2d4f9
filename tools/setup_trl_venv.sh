#!/usr/bin/env bash
# A Python virtual environment with PyTorch and Hugging Face TRL for tools/grpo_bench.py (gorae's GRPO
# against TRL's GRPOTrainer). Outside the repository by default; about 5 GB, since the PyPI torch
# wheel brings its CUDA libraries along (the benchmark runs on the CPU and never loads them).
#
#   bash tools/setup_trl_venv.sh [VENV_DIR]      # default /work/venv-trl
#   VENV_DIR/bin/python tools/grpo_bench.py --help
#
# Versions are pinned to the set the benchmark was measured with; PYTHON picks the interpreter
# (>= 3.10; default python3).
set -euo pipefail

VENV="${1:-/work/venv-trl}"
PYTHON="${PYTHON:-python3}"
PINS=(
  torch==2.15.0
  transformers==5.23.0
  trl==1.16.0
  accelerate==1.15.0
  datasets==5.2.0
)

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
"$VENV/bin/python" - <<'PY'
import torch, transformers, trl, accelerate, datasets
print(f"torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}, "
      f"accelerate {accelerate.__version__}, datasets {datasets.__version__}")
from trl import GRPOConfig, GRPOTrainer  # noqa: F401  (fails here, not in the benchmark, if TRL is broken)
PY
