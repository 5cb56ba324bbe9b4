#!/usr/bin/env python3
"""Compare two saved criterion baselines and print the ratio of medians per benchmark.

    cargo bench --bench solver -- --save-baseline before
    ... change ...
    cargo bench --bench solver -- --save-baseline after
    scripts/compare_criterion.py before after [target/criterion]
"""
import json, os, sys

def medians(root, name):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) == name and "estimates.json" in files:
            bench = os.path.relpath(os.path.dirname(dirpath), root)
            with open(os.path.join(dirpath, "estimates.json")) as f:
                out[bench] = json.load(f)["median"]["point_estimate"]
    return out

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns:.0f} ns"

def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = sys.argv[1], sys.argv[2]
    root = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    ma, mb = medians(root, a), medians(root, b)
    if not ma or not mb:
        sys.exit(f"no saved baselines {a!r}/{b!r} under {root}")
    print(f"{'benchmark':<40} {a:>12} {b:>12} {'ratio':>7}")
    for bench in sorted(set(ma) | set(mb)):
        if bench in ma and bench in mb:
            print(f"{bench:<40} {fmt(ma[bench]):>12} {fmt(mb[bench]):>12} {mb[bench] / ma[bench]:>7.3f}")
        else:
            print(f"{bench:<40} {'-' if bench not in ma else fmt(ma[bench]):>12} {'-' if bench not in mb else fmt(mb[bench]):>12}")

if __name__ == "__main__":
    main()
