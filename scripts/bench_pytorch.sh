#!/usr/bin/env bash
# Side-by-side SGD epoch timings, replica-mi against PyTorch (CPU), paired and alternating, at 1
# and 2 threads (see scripts/bench_pytorch.py). Not part of CI: PyTorch is large (the default PyPI
# wheel bundles CUDA libraries, several GB; only its CPU side is used).
#   scripts/bench_pytorch.sh [--pairs N] [--epochs N] [--scales small,full] [--threads 1,2]
#                            [--kinds usv,usv-unfused,dense]
# Environment: BENCH_VENV (default target/bench-pytorch-venv; created with PyTorch from PyPI when
# it cannot import torch), PYTHON (default python3), PROFILE (cargo profile of the Rust side:
# release by default; dev reuses the test build: dependencies at -O3, our code at -O2 with debug
# assertions, so its Rust timings are if anything pessimistic).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BENCH_VENV:-${CARGO_TARGET_DIR:-target}/bench-pytorch-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "bench-pytorch: creating $VENV with PyTorch from PyPI" >&2
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet torch numpy
fi
PROFILE="${PROFILE:-release}"
cargo build --profile "$PROFILE" --quiet --example epoch_timing
DIR=$PROFILE
[ "$PROFILE" = dev ] && DIR=debug
BIN="${CARGO_TARGET_DIR:-target}/$DIR/examples/epoch_timing"
exec "$VENV/bin/python" scripts/bench_pytorch.py --rust-bin "$BIN" "$@"
