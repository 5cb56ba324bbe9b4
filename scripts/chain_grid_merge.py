#!/usr/bin/env python3
"""Summary table of a random-network grid run in parts (`chain-grid --from K --n N --out partK.csv`).

Reads the per-chain CSVs that `chain-grid` writes and prints the same table as `chain-grid` does for
one run: outcomes grouped as converged / bound violations / unconverged (by cause) / unexpected
errors / panics, then the per-chain time percentiles. Chains must not repeat across the parts.

    python3 scripts/chain_grid_merge.py part0.csv part1.csv ...
"""
import csv
import gzip
import math
import sys
from collections import Counter

SLOW_SECONDS = 60.0  # as chain-grid's table (audit.rs SLOW_SECONDS)


def main(paths):
    rows, seen = [], set()
    for p in paths:
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "rt", newline="") as f:
            for r in csv.DictReader(f):
                i = int(r["chain"])
                if i in seen:
                    sys.exit(f"chain {i} appears twice ({p})")
                seen.add(i)
                rows.append((i, r["outcome"], float(r["seconds"])))
    n = len(rows)
    labels = Counter(label for _, label, _ in rows)
    pct = lambda k: 100.0 * k / max(n, 1)
    groups = [
        ("converged (inside every bound)", lambda l: l == "converged", None),
        ("bound violations", lambda l: l.startswith("bound violation: "), "bound violation: "),
        ("unconverged", lambda l: l.startswith("unconverged: "), "unconverged: "),
        ("unexpected errors", lambda l: l == "unexpected error", None),
        ("panics", lambda l: l == "panic", None),
    ]
    lo, hi = min(seen), max(seen)
    print(f"chain-grid (merged {len(paths)} parts): {n} chains, indices {lo}..{hi}")
    print(f"{'outcome':<64} {'chains':>7} {'share':>8}")
    for name, pred, prefix in groups:
        k = sum(c for l, c in labels.items() if pred(l))
        print(f"{name:<64} {k:>7} {pct(k):>7.2f}%")
        if prefix:
            for l in sorted(x for x in labels if x.startswith(prefix)):
                cause = l[len(prefix):][:60]
                print(f"  {cause:<62} {labels[l]:>7} {pct(labels[l]):>7.2f}%")
    print(f"{'total':<64} {n:>7}")
    t = sorted(s for _, _, s in rows)
    # nearest rank, as audit.rs `percentile`
    q = lambda p: t[min(max(math.ceil(p * len(t)), 1), len(t)) - 1]
    slow = sum(1 for s in t if s > SLOW_SECONDS)
    print(
        f"seconds per chain: p50 {q(0.5):.3f}  p90 {q(0.9):.3f}  p99 {q(0.99):.3f}  "
        f"max {t[-1]:.3f}  total {sum(t):.1f}; over 60 s: {slow}"
    )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
