#!/usr/bin/env bash
# `make slurm-test`: the Slurm recipe of this folder against a real one-node Slurm cluster.
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge when missing (needs root), starts
# munged, slurmctld and slurmd inside a network namespace of their own (loopback only: nothing
# listens outside it), submits the quick-scale fig3 as a 2-task array plus the dependent merge
# through submit.sh, and checks that the merged fig3.csv equals the CSV of an unsharded run byte
# for byte; then the same with one array task requeued in the middle of its run
# (`scontrol requeue`): it resumes from its checkpoint and the merged CSV is still the same. Every daemon it started is stopped by its PID on exit; every wait is bounded. Any
# failure exits non-zero with the logs; nothing is skipped.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
say() { echo "slurm-test: $*"; }
die() {
  echo "slurm-test: FAILED: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (apt-get, network namespaces, Slurm daemons as root)"
WAIT=${SLURM_TEST_TIMEOUT:-900} # seconds for the jobs to finish

# 1. Packages.
need=()
for p in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge nsenter:util-linux ip:iproute2 ss:iproute2; do
  command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  # Keep the packages' init scripts from starting daemons outside the namespace.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
for c in slurmctld slurmd sbatch squeue scontrol scancel munged nsenter ip ss; do
  command -v "$c" >/dev/null || die "$c is missing after the installation"
done

# 2. The binaries the jobs run (same profile as the tests).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
say "building the figure binaries"
# `cargo test --no-run` builds the binaries with the features `make test` resolved (dev-dependencies
# included): a plain `cargo build --bin` resolves features without them and rebuilds candle
cargo test --no-run --quiet
bin_dir=$CARGO_TARGET_DIR/debug
[ -x "$bin_dir/fig3" ] || die "no $bin_dir/fig3 after cargo build"

# 3. A cluster of one node in a namespace of its own.
work=$(mktemp -d /tmp/replica-mi-slurm.XXXXXX)
chmod 755 "$work"
ns=rmi-slurm-$$
pids=()
ns_made=
stop() {
  local rc=$?
  set +e
  if [ -n "$ns_made" ] && [ ${#pids[@]} -gt 0 ]; then
    # Cancel what is left so that no job step outlives the cluster.
    nsenter --net="/run/netns/$ns" env SLURM_CONF="$work/slurm.conf" scancel --quiet --user=root 2>/dev/null
  fi
  local p i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$p" 2>/dev/null; then
      echo "slurm-test: PID $p did not stop in 10 s, killing it" >&2
      kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  [ -z "$ns_made" ] || ip netns delete "$ns"
  if [ $rc -ne 0 ]; then
    for f in "$work"/*.log "$work"/*.stderr "$work"/out/*/slurm-*.out; do
      [ -f "$f" ] || continue
      echo "---- $f (last 40 lines)" >&2
      tail -n 40 "$f" >&2
    done
    echo "slurm-test: FAILED (exit $rc); files kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap stop EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ns_made=1
ip -n "$ns" link set lo up
# slurmctld does not bind with 127.0.0.1 alone on this loopback.
ip -n "$ns" addr add 127.0.0.2/8 dev lo
in_ns() { nsenter --net="/run/netns/$ns" "$@"; }
# Start a daemon in the namespace: nsenter executes it in its own process (no fork for a network
# namespace), so $! is the daemon's PID.
start_daemon() {
  nsenter --net="/run/netns/$ns" "$@" >"$work/$1.stderr" 2>&1 &
  local pid=$!
  pids+=("$pid")
  sleep 0.2
  local comm
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  [ "$comm" = "$1" ] || die "$1 did not start (PID $pid is '${comm:-gone}')"
}

mkdir -p "$work"/{munge,state,spool,out}
chmod 711 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
sock=$work/munge/munge.socket
start_daemon munged --foreground --force --key-file="$work/munge/munge.key" --socket="$sock" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munged.log" \
  --seed-file="$work/munge/munge.seed"
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  sleep 0.1
done
[ -S "$sock" ] || die "munged did not create $sock in 10 s"

host=$(hostname -s)
cpus=$(nproc)
cat >"$work/slurm.conf" <<CONF
ClusterName=replicami
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
NodeName=rmi NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1 State=UNKNOWN
PartitionName=test Nodes=rmi Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
start_daemon slurmctld -D -f "$SLURM_CONF"
start_daemon slurmd -D -f "$SLURM_CONF" -N rmi
say "waiting for the node"
ok=
for _ in $(seq 120); do
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || die "a daemon (PID $p) exited"; done
  state=$(in_ns sinfo -h -n rmi -o %T 2>/dev/null || true)
  case $state in idle*) ok=1 && break ;; esac
  sleep 0.5
done
[ -n "$ok" ] || die "node not idle after 60 s (state '${state:-?}')"
# Nothing of ours listens in the machine's own namespace.
if ss -H -ltnp 2>/dev/null | grep -E 'slurm|munge'; then
  die "a Slurm or munge socket listens outside the namespace"
fi
in_ns ss -H -ltn | grep -q ':6817' || die "slurmctld does not listen inside the namespace"

# 4. The recipe: a 2-task array and the dependent merge, through submit.sh.
out=$work/out/fig3
ids=$(in_ns env REPLICA_MI_BIN_DIR="$bin_dir" scripts/slurm/submit.sh fig3 quick "$out" 2)
read -r array merge <<<"$ids"
say "submitted array $array and merge $merge"
job_state() { in_ns scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort -u | cut -d= -f2 | tr '\n' ' '; }
wait_jobs() {
  local deadline=$((SECONDS + WAIT)) left
  while :; do
    left=$(in_ns squeue -h -j "$1,$2" -o %i 2>/dev/null | wc -l)
    [ "$left" = 0 ] && break
    [ $SECONDS -lt $deadline ] || die "jobs not finished after $WAIT s: $(in_ns squeue -h)"
    sleep 2
  done
}
wait_jobs "$array" "$merge"
a_state=$(job_state "$array")
m_state=$(job_state "$merge")
say "array: $a_state; merge: $m_state"
[ "$a_state" = "COMPLETED " ] || die "array job state '$a_state'"
[ "$m_state" = "COMPLETED " ] || die "merge job state '$m_state'"
for k in 1 2; do
  [ -s "$out/fig3.shard-$k-of-2.provenance.json" ] || die "no shard $k/2 record in $out"
done
grep -q '"merged_from"' "$out/fig3.provenance.json" || die "fig3.provenance.json is not a merged record"

# 5. The merged CSV against an unsharded run of the same binary.
"$bin_dir/fig3" --scale quick --quiet --out "$work/out/whole"
for f in fig3.csv fig3_errors.csv; do
  cmp "$work/out/whole/$f" "$out/$f" || die "merged $f differs from the unsharded run"
done
say "OK: merged fig3.csv and fig3_errors.csv ($(wc -l <"$out/fig3.csv") lines) equal the unsharded run"

# 6. A task requeued in the middle of its run (as on preemption or a node failure): it resumes
# from its last checkpoint, and the merge still equals the unsharded run. 40 epochs and a
# checkpoint after every epoch, so that the task is caught running with a checkpoint on disk.
out=$work/out/requeue
more=(--epochs 40 --checkpoint-every 1e)
ids=$(in_ns env REPLICA_MI_BIN_DIR="$bin_dir" scripts/slurm/submit.sh fig3 quick "$out" 2 "${more[@]}")
read -r array merge <<<"$ids"
say "submitted array $array and merge $merge (requeue scenario)"
ckpt=$out/fig3.shard-1-of-2.ckpt
deadline=$((SECONDS + WAIT))
until [ -e "$ckpt" ]; do
  [ $SECONDS -lt $deadline ] || die "no checkpoint $ckpt after $WAIT s"
  [ ! -e "$out/fig3.shard-1-of-2.provenance.json" ] || die "shard 1 finished before it could be requeued"
  sleep 0.1
done
in_ns scontrol requeue "${array}_1" || die "scontrol requeue ${array}_1 failed"
say "requeued task ${array}_1 after its first checkpoint"
wait_jobs "$array" "$merge"
a_state=$(job_state "$array")
m_state=$(job_state "$merge")
say "array: $a_state; merge: $m_state"
[ "$a_state" = "COMPLETED " ] || die "array job state '$a_state'"
[ "$m_state" = "COMPLETED " ] || die "merge job state '$m_state'"
grep -q '"resumed_from"' "$out/fig3.shard-1-of-2.provenance.json" ||
  die "shard 1 did not resume from its checkpoint"
"$bin_dir/fig3" --scale quick --quiet --out "$work/out/whole-requeue" "${more[@]}"
for f in fig3.csv fig3_errors.csv; do
  cmp "$work/out/whole-requeue/$f" "$out/$f" || die "merged $f differs after the requeue"
done
say "OK: a requeued task resumed from its checkpoint; the merged CSVs equal the unsharded run"
