#!/usr/bin/env bash
# The GPU check of replica-mi, run from the kit folder built by scripts/cuda_kit.sh (no Rust
# needed): `cuda-kit/run.sh` on a machine with an NVIDIA GPU, `cuda-kit/run.sh --cpu-only` on any
# machine (checks the kit itself: CPU runs only, the CUDA tests listed as not run).
#
#   1. finds the CUDA libraries (the driver's, CUDA installs, the Python packages' nvidia/*/lib)
#      and sets LD_LIBRARY_PATH; records what each carried binary resolves; prints the GPU;
#   2. runs the carried test executables, the ignored CUDA tests included (GPU mode);
#   3. runs fig3 and fig4 at quick scale with --device cuda and --device cpu and compares the
#      CSVs with device-compare (float32 tolerances, stated in src/experiment/cross_device.rs);
#   4. times training epochs of the paper-scale Figure 4 network on the GPU and on the CPU.
#
# Writes at most 8 files under $OUT (default ./cuda-kit-out, or --out DIR): summary.txt,
# env.txt, tests.txt, compare.txt, epoch_times.csv, runs.tar.gz (the figure CSVs, provenance and
# SVGs), log.txt. Exit status 0 only when every step that ran passed.
#
# Options: --cpu-only; --out DIR; --timing-scale quick|default|paper (default paper);
#          --gpu-epochs N (default 3) and --cpu-epochs N (default 1) for the timing.
set -uo pipefail

KIT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=gpu
OUT_DIR=${OUT:-$PWD/cuda-kit-out}
TIMING_SCALE=paper
GPU_EPOCHS=3
CPU_EPOCHS=1
while [ $# -gt 0 ]; do
    case "$1" in
    --cpu-only) MODE=cpu-only ;;
    --out) OUT_DIR=$2; shift ;;
    --timing-scale) TIMING_SCALE=$2; shift ;;
    --gpu-epochs) GPU_EPOCHS=$2; shift ;;
    --cpu-epochs) CPU_EPOCHS=$2; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT_DIR" || exit 2
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cuda-kit.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
# The executables, unpacked first when the kit carries them xz-compressed (a kit over 64 MiB).
BIN_DIR="$KIT/bin"
TEST_DIR="$KIT/tests"
# the tests of the carried test binary that concern the devices (written by cuda_kit.sh)
TEST_FILTER=$(cat "$KIT/test-filter" 2>/dev/null || true)
if ls "$KIT"/bin/*.xz "$KIT"/tests/*.xz >/dev/null 2>&1; then
    mkdir -p "$WORK/kit/bin" "$WORK/kit/tests"
    for f in "$KIT"/bin/*.xz "$KIT"/tests/*.xz; do
        dst="$WORK/kit/$(basename "$(dirname "$f")")/$(basename "$f" .xz)"
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
            "$f" "$dst" || xz -dc "$f" >"$dst" || { echo "run.sh: cannot unpack $f" >&2; exit 2; }
        chmod +x "$dst"
    done
    BIN_DIR="$WORK/kit/bin"
    TEST_DIR="$WORK/kit/tests"
fi
SUMMARY="$OUT_DIR/summary.txt"
LOG="$OUT_DIR/log.txt"
ENV_TXT="$OUT_DIR/env.txt"
TESTS_TXT="$OUT_DIR/tests.txt"
COMPARE_TXT="$OUT_DIR/compare.txt"
TIMES="$OUT_DIR/epoch_times.csv"
: >"$SUMMARY"; : >"$LOG"; : >"$ENV_TXT"; : >"$TESTS_TXT"; : >"$COMPARE_TXT"; : >"$TIMES"
FAILED=0
START=$SECONDS

note() { echo "$*" | tee -a "$SUMMARY"; }
# step NAME STATUS DETAIL: one line of the summary; FAIL makes the exit status non-zero.
step() {
    printf '%-40s %-8s %s\n' "$1" "$2" "${3:-}" | tee -a "$SUMMARY"
    [ "$2" = FAIL ] && FAILED=1
    return 0
}
# run LIMIT_S FILE CMD...: run CMD with a time limit, its output appended to FILE and to log.txt
# once it has ended (no pipe still writing when the caller reads FILE).
run() {
    local limit=$1 file=$2 tmp="$WORK/run.out"
    shift 2
    { echo "\$ $*"; timeout "$limit" "$@" 2>&1; } >"$tmp"
    local rc=$?
    [ $rc -eq 124 ] && echo "(stopped after ${limit}s)" >>"$tmp"
    cat "$tmp" >>"$LOG"
    [ "$file" = "$LOG" ] || cat "$tmp" >>"$file"
    return $rc
}

note "replica-mi CUDA kit, mode $MODE, $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
sed 's/^/kit: /' "$KIT/BUILD_INFO.txt" >>"$SUMMARY" 2>/dev/null || note "kit: no BUILD_INFO.txt"

# --- 1. libraries and the GPU -----------------------------------------------------------------------
LIBDIRS=()
add_dir() { [ -d "$1" ] && case " ${LIBDIRS[*]:-} " in *" $1 "*) ;; *) LIBDIRS+=("$1") ;; esac; }
# The Python packages' CUDA libraries (nvidia/cu13/lib, nvidia/<lib>/lib, torch/lib), for every
# python3 on the machine.
for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    while IFS= read -r d; do add_dir "$d"; done < <("$py" - <<'PY' 2>/dev/null
import glob, os, sys
for p in sys.path:
    for pat in ("nvidia/cu13/lib", "nvidia/*/lib", "torch/lib"):
        for d in sorted(glob.glob(os.path.join(p, pat))):
            print(os.path.realpath(d))
PY
)
done
# CUDA toolkits installed on the system.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 \
    /usr/local/cuda-13*/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/lib/wsl/lib; do
    add_dir "$d"
done
HAVE_DRIVER=0
if ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then HAVE_DRIVER=1; fi
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/lib/wsl/lib; do
    [ -e "$d/libcuda.so.1" ] && HAVE_DRIVER=1
done
if [ "$MODE" = cpu-only ] && [ $HAVE_DRIVER = 0 ]; then
    # No driver here: the stub answers every CUDA call with "no device" (CPU runs only).
    add_dir "$KIT/stub"
fi
LD_LIBRARY_PATH=$(IFS=:; echo "${LIBDIRS[*]:-}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
{
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo
    echo "== nvidia-smi"
    if command -v nvidia-smi >/dev/null; then nvidia-smi 2>&1; else echo "(no nvidia-smi)"; fi
    echo
    echo "== libraries of the carried executables"
} >>"$ENV_TXT"
MISSING=0
STUBBED=0
for exe in "$BIN_DIR"/* "$TEST_DIR"/*; do
    deps=$(ldd "$exe" 2>&1)
    { echo "-- $(basename "$exe")"; echo "$deps" | grep -E 'cuda|cublas|curand|nvrtc|not found'; } >>"$ENV_TXT"
    echo "$deps" | grep -q 'not found' && MISSING=1
    echo "$deps" | grep -q "$KIT/stub" && STUBBED=1
done
GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
note "GPU: ${GPU:-none found}"
if [ $MISSING = 1 ]; then
    step "libraries" FAIL "a carried executable has a library not found (env.txt)"
    note "result: FAIL (cannot start the binaries)"; exit 1
fi
if [ "$MODE" = gpu ] && [ $STUBBED = 1 ]; then
    step "libraries" FAIL "libcuda.so.1 resolves to the kit's stub, not a driver"; exit 1
fi
step "libraries" ok "$( [ $STUBBED = 1 ] && echo 'libcuda: kit stub (no driver; CPU only)' || echo 'all found (env.txt)')"
if [ "$MODE" = gpu ] && [ -z "$GPU" ]; then
    step "gpu" FAIL "nvidia-smi shows no GPU (use --cpu-only to check the kit without one)"
fi

# --- 2. the carried tests -----------------------------------------------------------------------------
for t in "$TEST_DIR"/*; do
    name=$(basename "$t")
    if [ "$MODE" = gpu ]; then
        # Every test, the ignored CUDA twins included: they fail (never skip) without a device.
        run 420 "$TESTS_TXT" "$t" $TEST_FILTER --include-ignored --test-threads=1
    else
        run 420 "$TESTS_TXT" "$t" $TEST_FILTER --test-threads=1
    fi
    rc=$?
    line=$(grep -E '^test result:' "$TESTS_TXT" | tail -n 1)
    if [ $rc = 0 ]; then
        step "tests/$name" ok "$line"
    else
        step "tests/$name" FAIL "exit $rc: $line"
    fi
    if [ "$MODE" = cpu-only ]; then
        n=$(grep -cE '^test [A-Za-z0-9_:]*_cuda \.\.\. ignored' "$TESTS_TXT")
        step "tests/$name cuda twins" "not run" "$n CUDA tests listed as ignored (no GPU: --cpu-only)"
    else
        n=$(grep -cE '^test [A-Za-z0-9_:]*_cuda \.\.\. ok' "$TESTS_TXT")
        step "tests/$name cuda twins" "$( [ "$n" -gt 0 ] && echo ok || echo FAIL)" "$n CUDA tests passed on the GPU"
    fi
done

# --- 3. quick figures on both devices, compared ------------------------------------------------------
if [ "$MODE" = gpu ]; then OTHER=cuda; else OTHER=cpu; fi
[ "$MODE" = cpu-only ] && note "cpu-only: the 'cuda' side of each comparison runs on the CPU too (checks the kit, not CUDA)"
for fig in fig3 fig4; do
    [ -x "$BIN_DIR/$fig" ] || { step "$fig" FAIL "not in the kit"; continue; }
    ok=1
    for label in cpu gpu; do
        if [ $label = cpu ]; then side=cpu; else side=$OTHER; fi
        dir="$WORK/runs/$fig-$label"
        mkdir -p "$dir"
        t0=$SECONDS
        if run 240 "$LOG" "$BIN_DIR/$fig" --scale quick --quiet --device "$side" --out "$dir"; then
            step "$fig quick --device $side ($label side)" ok "$((SECONDS - t0))s"
        else
            step "$fig quick --device $side ($label side)" FAIL "see log.txt"
            ok=0
        fi
    done
    [ $ok = 1 ] || continue
    if run 60 "$COMPARE_TXT" "$BIN_DIR/device-compare" "$fig" \
        --cpu "$WORK/runs/$fig-cpu/$fig.csv" --gpu "$WORK/runs/$fig-gpu/$fig.csv"; then
        step "$fig cpu vs $OTHER" ok "within tolerance (compare.txt)"
    else
        step "$fig cpu vs $OTHER" FAIL "out of tolerance or unreadable (compare.txt)"
    fi
done
[ -d "$WORK/runs" ] && tar -C "$WORK" -czf "$OUT_DIR/runs.tar.gz" runs

# --- 4. epoch times at paper scale -------------------------------------------------------------------
timer() { # timer DEVICE EPOCHS [--no-header]
    local raw="$WORK/times-$1.out" rows="$WORK/times-$1.csv"
    if run 240 "$raw" "$BIN_DIR/epoch-timer" --scale "$TIMING_SCALE" --device "$1" --epochs "$2" \
        --no-header; then
        if ! grep -E "^$TIMING_SCALE," "$raw" >"$rows"; then
            step "epoch time $TIMING_SCALE --device $1" FAIL "no timing rows (log.txt)"
            return
        fi
        [ "${3:-}" = --no-header ] \
            || echo "scale,device,variant,widths,n_train,batch_size,epoch,seconds,train_loss" >>"$TIMES"
        cat "$rows" >>"$TIMES"
        step "epoch time $TIMING_SCALE --device $1" ok "seconds per epoch: $(cut -d, -f8 "$rows" | paste -sd' ' -)"
    else
        step "epoch time $TIMING_SCALE --device $1" FAIL "see log.txt"
    fi
}
if [ "$MODE" = gpu ]; then
    timer cuda "$GPU_EPOCHS"
    timer cpu "$CPU_EPOCHS" --no-header
else
    timer cpu "$CPU_EPOCHS"
fi

# At most 8 files may come back from the GPU machine: say how many this run left in $OUT.
NFILES=$(find "$OUT_DIR" -type f | wc -l)
if [ "$NFILES" -le 8 ]; then
    step "files in \$OUT" ok "$NFILES (at most 8)"
else
    step "files in \$OUT" FAIL "$NFILES, over 8 ($OUT_DIR held other files?)"
fi
note "total ${SECONDS}s"
if [ $FAILED = 0 ]; then note "result: PASS ($MODE)"; else note "result: FAIL ($MODE)"; fi
exit $FAILED
