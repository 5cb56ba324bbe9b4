#!/usr/bin/env bash
# Time per epoch of paper-scale Figure 4 (one variant: --shard 1/2, the linear-relu row) with
# checkpoints off, at the default interval (5m) and after every epoch (1e), from the epoch wall
# times the binary reports... measured here as the process's wall time for EPOCHS epochs (data
# generation included, the same in the three runs). Usage:
#   scripts/checkpoint_overhead.sh [EPOCHS] [BIN_DIR]
# Prints one line per setting: setting, seconds, checkpoint files written.
set -euo pipefail
epochs=${1:-3}
bin_dir=${2:-${CARGO_TARGET_DIR:-target}/debug}
work=$(mktemp -d /tmp/replica-mi-ckpt-overhead.XXXXXX)
trap 'rm -rf "$work"' EXIT
for every in off 5m 1e; do
  out=$work/$every
  t0=$(date +%s.%N)
  "$bin_dir/fig4" --scale paper --epochs "$epochs" --shard 1/2 --quiet --out "$out" \
    --checkpoint-every "$every"
  t1=$(date +%s.%N)
  echo "$every $(echo "$t1 - $t0" | bc) s"
done
