#!/usr/bin/env bash
# Build the CUDA kit on a machine without a GPU: an nvcc matching the GPU machine's driver (CUDA
# 13.0), the training figure binaries and the CUDA test executables in release with
# `--features cuda`, stripped, packed with scripts/cuda_kit_run.sh into one folder (default
# cuda-kit/, ignored by git) that must stay under 60 MiB (64 MiB travel in all, the checkout
# included). On the GPU machine: `cuda-kit/run.sh`.
#
# Environment:
#   CUDA_KIT_DIR         output folder (default <repo>/cuda-kit)
#   CUDA_KIT_TARGET_DIR  cargo target dir of the kit build (default <repo>/target/cuda-kit-build);
#                        kept apart from the ordinary one, so `--features cuda` never rebuilds it
#   CUDA_KIT_PROFILE     cargo profile of the build (default cuda-kit: release at -O2, see Cargo.toml)
#   CUDA_COMPUTE_CAP     GPU architecture of the static kernels (default 90: H100/H200)
#   CUDA_KIT_MAX_BYTES   size limit of the kit (default 60 MiB: 64 MiB travel in all, checkout included)
#   NICE                 niceness of the build (default 15)
#   CUDA_KIT_NO_CUDA=1   a kit WITHOUT CUDA (no nvcc, no --features cuda, no driver stand-in):
#                        checks the packing and `run.sh --cpu-only` in minutes, e.g. from the
#                        tests' build: CUDA_KIT_NO_CUDA=1 CUDA_KIT_PROFILE=dev
#                        CUDA_KIT_TARGET_DIR=target scripts/cuda_kit.sh. Never carry it to a GPU.
set -euo pipefail

# The whole script is one function, read before it runs, and the file is not read after it.
main() {

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
KIT=${CUDA_KIT_DIR:-$ROOT/cuda-kit}
export CARGO_TARGET_DIR=${CUDA_KIT_TARGET_DIR:-$ROOT/target/cuda-kit-build}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
# 64 MiB is what may travel in all, the checkout (about 2 MB) included: the kit keeps 4 MiB free.
MAX_BYTES=${CUDA_KIT_MAX_BYTES:-62914560}
NICE=${NICE:-15}
CUDA_SERIES=13.0
NO_CUDA=${CUDA_KIT_NO_CUDA:-0}

# What the kit carries. Figure binaries that train networks (a name is taken when Cargo.toml
# declares it, so figures added later only need their name here), the comparison tool, and the
# integration-test target whose tests exercise CUDA (the root crate's one test binary, `it`), and
# the filter that selects those tests in it (its `nn` module: the training tests and their CUDA
# twins); run.sh passes the filter.
FIGURES="fig3 fig4 figS2"
TOOLS="device-compare epoch-timer"
TESTS="it"
TEST_FILTER="nn::"

say() { echo "== cuda-kit: $*" >&2; }
die() { echo "cuda-kit: error: $*" >&2; exit 1; }
START=$SECONDS

FEATURES=(--features cuda)
if [ "$NO_CUDA" = 1 ]; then
    FEATURES=()
    say "CUDA_KIT_NO_CUDA=1: a kit without CUDA (checks the packing and run.sh --cpu-only only)"
else
# --- 1. nvcc 13.0 from PyPI (a newer nvcc may emit PTX that a 13.0 driver refuses) -------------
command -v python3 >/dev/null || die "python3 is needed to install the CUDA toolkit from PyPI"
SITE=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CU="$SITE/nvidia/cu13"
want_nvcc() { [ -x "$CU/bin/nvcc" ] && "$CU/bin/nvcc" --version | grep -q "release $CUDA_SERIES,"; }
# Libraries needed at link time (cudarc links cuda, nvrtc, curand, cublas, cublasLt; candle's
# kernels cudart): the runtime ones come from the same wheels the GPU machine's PyTorch uses.
have_libs() {
    for l in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
        [ -e "$CU/lib/$l" ] || return 1
    done
}
if ! want_nvcc || ! have_libs; then
    say "installing the CUDA $CUDA_SERIES toolkit (nvcc and link libraries) from PyPI"
    python3 -m pip install --quiet \
        "cuda-toolkit[nvcc,cudart,crt,nvvm,cccl,cublas,curand,nvrtc]==$CUDA_SERIES.*" \
        || die "pip install of cuda-toolkit $CUDA_SERIES failed"
fi
want_nvcc || die "$CU/bin/nvcc is not CUDA $CUDA_SERIES after the install"
have_libs || die "CUDA libraries missing in $CU/lib after the install"
export PATH="$CU/bin:$PATH"
say "$(nvcc --version | grep release)"

# --- 2. a stand-in for the driver library ----------------------------------------------------------
# libcuda.so comes with the GPU driver, not with any wheel, and cudarc links it by name. We link
# against a stub with the driver's soname (`libcuda.so.1`) that defines every entry point cudarc
# binds (names read from cudarc's bindings) as "return CUDA_ERROR_NO_DEVICE (100)". On the GPU
# machine the loader takes the real driver; the kit carries the stub only so that
# `run.sh --cpu-only` can start the binaries on a machine without a driver, where any CUDA call
# then fails as "no device" (run.sh never uses it otherwise and checks that it did not).
LINK="$CARGO_TARGET_DIR/cuda-link"
mkdir -p "$LINK/lib"
cargo fetch --quiet
CUDARC_VER=$(awk '/^name = "cudarc"$/ {getline; gsub(/"/, "", $3); print $3}' Cargo.lock)
[ -n "$CUDARC_VER" ] || die "cudarc not found in Cargo.lock"
BINDINGS=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-"$CUDARC_VER"/src/driver/sys/mod.rs 2>/dev/null | head -n 1)
[ -n "$BINDINGS" ] || die "cudarc $CUDARC_VER sources not found in the cargo registry"
{
    echo "/* Link-time and --cpu-only stand-in for libcuda.so.1 (generated by scripts/cuda_kit.sh). */"
    echo "const char cuda_kit_stub_marker[] = \"replica-mi cuda-kit libcuda stub\";"
    grep -oE 'pub unsafe fn cu[A-Za-z0-9_]+' "$BINDINGS" | awk '{print "int " $4 "(void) { return 100; }"}' | sort -u
} >"$LINK/libcuda_stub.c"
grep -q '^int cuInit(void)' "$LINK/libcuda_stub.c" || die "no driver entry points found in $BINDINGS"
cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$LINK/lib/libcuda.so" "$LINK/libcuda_stub.c"
for l in cudart cublas cublasLt nvrtc; do ln -sf "$CU/lib/lib$l.so.13" "$LINK/lib/lib$l.so"; done
ln -sf "$CU/lib/libcurand.so.10" "$LINK/lib/libcurand.so"
export CUDA_HOME="$LINK"     # cudarc adds $CUDA_HOME/lib to the link search path
export LIBRARY_PATH="$LINK/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-2}
fi

# --- 3. build -------------------------------------------------------------------------------------
# One cargo invocation: `cargo test --no-run --test it` builds the library, the test executable
# and, for the integration tests, every binary of the package too, all with one feature set (a
# separate `cargo build` would resolve the dev-dependencies' features apart and build some crates
# twice). Profile `cuda-kit` (Cargo.toml): release at -O2, stripped, polars at -O1.
PROFILE=${CUDA_KIT_PROFILE:-cuda-kit}
BINS=()
for b in $FIGURES $TOOLS; do
    if grep -q "^name = \"$b\"" Cargo.toml || [ -f "src/bin/$b.rs" ]; then BINS+=("$b"); fi
done
TEST_ARGS=(); for t in $TESTS; do TEST_ARGS+=(--test "$t"); done
say "building ${BINS[*]} and tests ${TESTS} (profile $PROFILE, ${FEATURES[*]:-no CUDA}, sm_$CUDA_COMPUTE_CAP) in $CARGO_TARGET_DIR"
JSON="$CARGO_TARGET_DIR/cuda-kit-build.json"
nice -n "$NICE" cargo test --profile "$PROFILE" ${FEATURES[@]+"${FEATURES[@]}"} --locked --no-run "${TEST_ARGS[@]}" \
    --message-format=json >"$JSON" || die "the build failed (messages in $JSON)"
BUILD_S=$((SECONDS - START))

# --- 4. pack ----------------------------------------------------------------------------------------
# artifact KIND NAME: the executable cargo reported for target NAME of kind bin or test.
artifact() {
    python3 - "$JSON" "$1" "$2" <<'PY'
import json, sys
path, kind, name = sys.argv[1:]
for line in open(path):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m["target"]["name"] == name and kind in m["target"]["kind"] \
            and m["profile"]["test"] == (kind == "test"):
        print(m["executable"])
PY
}
rm -rf "$KIT"
mkdir -p "$KIT/bin" "$KIT/tests" "$KIT/stub"
for b in "${BINS[@]}"; do
    exe=$(artifact bin "$b")
    [ -n "$exe" ] || die "no executable for binary $b in $JSON"
    cp "$exe" "$KIT/bin/$b"
done
for t in $TESTS; do
    exe=$(artifact test "$t")
    [ -n "$exe" ] || die "no test executable for --test $t in $JSON"
    cp "$exe" "$KIT/tests/$t"
done
strip "$KIT"/bin/* "$KIT"/tests/*
[ "$NO_CUDA" = 1 ] || cp "$LINK/lib/libcuda.so" "$KIT/stub/libcuda.so.1"
cp scripts/cuda_kit_run.sh "$KIT/run.sh"
echo "$TEST_FILTER" >"$KIT/test-filter"
chmod +x "$KIT/run.sh"
BYTES=$(du -sb "$KIT" | cut -f1)
if [ "$BYTES" -gt "$MAX_BYTES" ]; then
    # Every executable links candle's CUDA kernels (PTX text and sm_90a code, tens of MB): over
    # the limit, they travel xz-compressed and run.sh unpacks them into a temporary folder.
    command -v xz >/dev/null || die "the kit is $BYTES bytes (over $MAX_BYTES) and xz is missing"
    say "$BYTES bytes uncompressed, over $MAX_BYTES: compressing the executables with xz"
    nice -n "$NICE" xz -9 -T1 "$KIT"/bin/* "$KIT"/tests/*
    BYTES=$(du -sb "$KIT" | cut -f1)
fi
{
    echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(nproc) cores"
    if [ "$NO_CUDA" = 1 ]; then
        echo "NO CUDA: built without --features cuda (CUDA_KIT_NO_CUDA=1), for run.sh --cpu-only only"
    else
        echo "nvcc $(nvcc --version | grep -o 'V[0-9][0-9.]*')"
    fi
    echo "compute_cap $CUDA_COMPUTE_CAP"
    echo "cargo_profile $PROFILE"
    echo "rustc $(rustc --version)"
    echo "build_seconds $BUILD_S"
    echo "kit_bytes $BYTES"
    echo "binaries ${BINS[*]}"
    echo "tests $TESTS"
} >"$KIT/BUILD_INFO.txt"
ls -l "$KIT"/bin "$KIT"/tests >&2
if [ "$BYTES" -gt "$MAX_BYTES" ]; then
    die "the kit is $BYTES bytes, over the limit of $MAX_BYTES"
fi
say "kit ready in $KIT: $BYTES bytes ($((BYTES / 1048576)) MiB), built in ${BUILD_S}s; run it with $KIT/run.sh"
}

# On one line: bash reads nothing of the file after main (an edit during a build cannot break it).
main "$@"; exit $?
