#!/usr/bin/env bash
# Submit a figure as a Slurm job array (one task per shard) and the merge as a job that runs once
# every task succeeded (--dependency=afterok). Prints the two job ids ("ARRAY_ID MERGE_ID").
#
#   scripts/slurm/submit.sh FIGURE SCALE OUT SHARDS [FIGURE ARGS...]
#
#   FIGURE  fig2, fig3, fig4 or figS2 (the binary must be built: cargo build --release --bins)
#   SCALE   quick, default or paper
#   OUT     output folder (created; shards, logs and the merged figure go there)
#   SHARDS  number of array tasks N
#   FIGURE ARGS are passed to every shard (e.g. --epochs 50, --variant hardtanh-only,
#   --data-dir DIR).
#
# Environment: REPLICA_MI_BIN_DIR  folder of the binaries (default: $CARGO_TARGET_DIR/release,
# else target/release); sbatch's own variables set the resources of both jobs, e.g.
# SBATCH_PARTITION, SBATCH_TIMELIMIT, SBATCH_ACCOUNT; SHARD_SBATCH_ARGS adds options to the array
# only (e.g. "--cpus-per-task=4 --mem=8G").
#
# Longer than the partition allows: every shard of fig3, fig4 and figS2 checkpoints into OUT and
# runs with --resume; shard.sbatch asks for USR1 thirty minutes before the time limit, the binary
# then checkpoints and exits, and the task requeues itself. A sweep of 100 hours per shard on 24-hour
# partitions is therefore submitted as it is, e.g.
#   SBATCH_TIMELIMIT=24:00:00 scripts/slurm/submit.sh fig3 paper out/fig3 5
# and each task runs five times (4 x 24 h + the rest), losing at most the epoch in progress at
# each stop (at a node failure: the work since the last checkpoint, 5 minutes by default; pass
# --checkpoint-every to change it). The merge waits for the last of them (afterok).
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,26p' "$0" >&2
  exit 2
fi
fig=$1 scale=$2 out=$3 shards=$4
shift 4
case $fig in fig2 | fig3 | fig4 | figS2) ;; *)
  echo "submit.sh: unknown figure '$fig' (fig2, fig3, fig4 or figS2)" >&2
  exit 2
  ;;
esac
case $scale in quick | default | paper) ;; *)
  echo "submit.sh: unknown scale '$scale' (quick, default or paper)" >&2
  exit 2
  ;;
esac
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: SHARDS must be a positive integer, got '$shards'" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bin_dir=${REPLICA_MI_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
bin=$(realpath "$bin_dir/$fig" 2>/dev/null || true)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "submit.sh: no executable $bin_dir/$fig; build it first (cargo build --release --bins)" >&2
  exit 1
fi
mkdir -p "$out"
out=$(realpath "$out")
if compgen -G "$out/*.shard-*-of-*.provenance.json" >/dev/null; then
  echo "submit.sh: $out already holds shard outputs; use an empty folder (the merge refuses mixed sets)" >&2
  exit 1
fi
read -r -a shard_opts <<<"${SHARD_SBATCH_ARGS:-}"
array=$(sbatch --parsable --array="1-$shards" --job-name="$fig-$scale" \
  --output="$out/slurm-$fig-%A_%a.out" "${shard_opts[@]}" \
  "$here/shard.sbatch" "$bin" "$scale" "$out" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --job-name="$fig-$scale-merge" --output="$out/slurm-$fig-merge-%j.out" \
  "$here/merge.sbatch" "$bin" "$out")
merge=${merge%%;*}
echo "$array $merge"
