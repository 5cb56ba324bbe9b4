#!/usr/bin/env bash
# Side-by-side SGD epoch timings, replica-mi against PyTorch (CPU), paired and alternating, at 1
# and 2 threads (see scripts/bench_pytorch.py). Not part of CI: PyTorch is large (the default PyPI
# wheel bundles CUDA libraries, several GB; only its CPU side is used).
#   scripts/bench_pytorch.sh [--pairs N] [--epochs N] [--scales small,full] [--threads 1,2]
# Environment: BENCH_VENV (default target/bench-pytorch-venv), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BENCH_VENV:-${CARGO_TARGET_DIR:-target}/bench-pytorch-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "bench-pytorch: creating $VENV with PyTorch from PyPI" >&2
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet torch numpy
fi
cargo build --release --quiet --example epoch_timing
BIN="${CARGO_TARGET_DIR:-target}/release/examples/epoch_timing"
exec "$VENV/bin/python" scripts/bench_pytorch.py --rust-bin "$BIN" "$@"
