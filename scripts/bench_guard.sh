#!/usr/bin/env bash
# Instruction-count guard: solve each chain of the guard panel under callgrind and compare the
# instructions executed with data/instruction_baseline.csv. Instruction counts do not depend on
# the machine's load, so a change of more than the margin is a real change of work.
#   scripts/bench_guard.sh            compare (exit 1 if any chain grew by more than MARGIN)
#   scripts/bench_guard.sh --update   record the current counts as the new baseline
set -euo pipefail
cd "$(dirname "$0")/.."
MARGIN="${MARGIN:-0.10}"
BASE=data/instruction_baseline.csv
command -v valgrind >/dev/null || { echo "bench-guard: valgrind is not installed" >&2; exit 2; }
# with --tests, so that features resolve as for `cargo test` and the test build is reused
cargo build --quiet --bins --tests
BIN="${CARGO_TARGET_DIR:-target}/debug/solver-panel"
chains=$(tail -n +2 data/solver_budgets.csv | cut -d, -f1)
tmp=$(mktemp)
echo "chain,instructions" > "$tmp"
for c in $chains; do
  ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" --only "$c" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  [ -n "$ir" ] || { echo "bench-guard: no instruction count for $c" >&2; exit 2; }
  echo "$c,$ir" >> "$tmp"
done
if [ "${1:-}" = "--update" ]; then
  mv "$tmp" "$BASE"
  echo "baseline written to $BASE"
  cat "$BASE"
  exit 0
fi
[ -f "$BASE" ] || { echo "bench-guard: no baseline $BASE (run with --update)" >&2; exit 2; }
python3 - "$BASE" "$tmp" "$MARGIN" <<'PY'
import csv, sys
base = {r["chain"]: int(r["instructions"]) for r in csv.DictReader(open(sys.argv[1]))}
now = {r["chain"]: int(r["instructions"]) for r in csv.DictReader(open(sys.argv[2]))}
margin = float(sys.argv[3])
bad = []
print(f"{'chain':<26} {'baseline':>15} {'now':>15} {'ratio':>7}")
for c, n in now.items():
    b = base.get(c)
    if b is None:
        print(f"{c:<26} {'(none)':>15} {n:>15,}"); bad.append(c); continue
    r = n / b
    flag = "  <-- over" if r > 1 + margin else ""
    print(f"{c:<26} {b:>15,} {n:>15,} {r:>7.3f}{flag}")
    if flag: bad.append(c)
if bad:
    print(f"bench-guard: {len(bad)} chain(s) over the {margin:.0%} margin: {', '.join(bad)}")
    sys.exit(1)
print("bench-guard: all chains within the margin")
PY
rm -f "$tmp"
