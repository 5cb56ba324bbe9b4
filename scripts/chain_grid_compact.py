#!/usr/bin/env python3
"""Shrink a `chain-grid --out` report to what the grid tables need, to keep a part of a large grid
in the repository: the chain index, outcome, seconds, entropy and scheme, and the detail cut to
200 characters. The spec column is dropped: chain i of a seed is redrawn by `chain-grid --from i
--n 1` with the seed and kind of the part's provenance.

    python3 scripts/chain_grid_compact.py REPORT.csv OUT.csv[.gz]

(gzip-compressed when OUT ends in .gz; scripts/chain_grid_merge.py reads either.)
"""
import csv
import gzip
import sys

KEEP = ["chain", "outcome", "seconds", "entropy", "scheme", "detail"]
DETAIL_CHARS = 200


def main(src, dst):
    csv.field_size_limit(1 << 30)
    opener = gzip.open if dst.endswith(".gz") else open
    with open(src, newline="") as f, opener(dst, "wt", newline="") as g:
        w = csv.writer(g, lineterminator="\n")
        w.writerow(KEEP)
        for r in csv.DictReader(f):
            r["detail"] = r["detail"][:DETAIL_CHARS]
            w.writerow([r[k] for k in KEEP])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
