#!/usr/bin/env bash
# The cost of checkpoints on paper-scale Figure 4, one variant (--shard 1/2, the linear-relu row):
# PAIRS pairs of runs of EPOCHS epochs, one with --checkpoint-every off and one with SETTING
# (default 1e: a checkpoint after every epoch), the order alternating from pair to pair so that a
# drift of the machine's load hits both settings alike. Each run's wall time is the process's
# (data generation included, the same in both). Usage:
#   scripts/checkpoint_overhead.sh [EPOCHS] [PAIRS] [SETTING] [BIN_DIR]
# A run with 1e writes EPOCHS+1 checkpoints (epoch 0 included), one with off none. Prints one line
# per run (pair, setting, seconds) and then, per setting, the median wall time and the median of
# the paired differences.
set -euo pipefail
epochs=${1:-3}
pairs=${2:-3}
setting=${3:-1e}
bin_dir=${4:-${CARGO_TARGET_DIR:-target}/debug}
work=$(mktemp -d /tmp/replica-mi-ckpt-overhead.XXXXXX)
trap 'rm -rf "$work"' EXIT
results=$work/results
: >"$results"
run() { # pair setting
  local out=$work/$1-$2 t0 t1 n
  t0=$(date +%s.%N)
  "$bin_dir/fig4" --scale paper --epochs "$epochs" --shard 1/2 --quiet --out "$out" \
    --checkpoint-every "$2"
  t1=$(date +%s.%N)
  echo "$1 $2 $(echo "$t1 - $t0" | bc)" | tee -a "$results"
}
for p in $(seq 1 "$pairs"); do
  if [ $((p % 2)) -eq 1 ]; then
    run "$p" off
    run "$p" "$setting"
  else
    run "$p" "$setting"
    run "$p" off
  fi
done
python3 - "$results" "$setting" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
setting = sys.argv[2]
t = {s: {int(p): float(x) for p, s2, x in rows if s2 == s} for s in ("off", setting)}
for s in t:
    print(f"median {s}: {statistics.median(t[s].values()):.2f} s")
d = [t[setting][p] - t["off"][p] for p in t["off"] if p in t[setting]]
print(f"median paired difference ({setting} - off): {statistics.median(d):+.2f} s over {len(d)} pairs")
EOF
