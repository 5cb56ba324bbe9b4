#!/usr/bin/env python3
"""The spectrum of a big float32 weight matrix: replica_mi vs numpy, side by side.

    python scripts/bench_big_matrix.py [--n 10000] [--rows R --cols C] [--what both|ours|numpy]

Each side runs in a subprocess of its own that makes the same seeded float32 matrix (drawn in
float32 directly, no float64 temporary) and then measures one call:

- ours:  replica_mi.wtw_eigenvalues(W) (what Layer(..., weights=W) computes: the eigenvalues of the
         smaller Gram matrix, GIL released);
- numpy: numpy.linalg.svd(W, compute_uv=False) (singular values only, LAPACK's gesdd in float32).

Printed per side: wall time, and the peak resident memory added by the call (ru_maxrss after minus
before) as a multiple of the matrix's own size; then the largest relative difference between the
two spectra (s^2 vs eigenvalues). numpy's speed depends on its BLAS: OPENBLAS_CORETYPE (set on some
machines for old OpenBLAS builds) slows a current numpy; run this with it unset to give numpy its
best, and read the kernel it used in the output (threadpoolctl, when installed).
"""

import argparse
import json
import os
import subprocess
import sys


def child(what, rows, cols, seed):
    import resource
    import time

    import numpy as np

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols), dtype=np.float32)
    w /= np.float32(np.sqrt(cols))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if what == "ours":
        import replica_mi

        eigs = replica_mi.wtw_eigenvalues(w)[: min(rows, cols)]
    else:
        eigs = np.linalg.svd(w, compute_uv=False).astype(np.float64) ** 2
    secs = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    blas = None
    try:
        from threadpoolctl import threadpool_info

        blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
    except ImportError:
        pass
    out = os.environ["BENCH_OUT"]
    np.save(out + ".npy", np.sort(eigs)[::-1])
    with open(out + ".json", "w") as f:
        json.dump({"secs": secs, "added_kib": max(0, after - before), "blas": blas}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000, help="square matrix size (default 10000)")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--cols", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--what", choices=["both", "ours", "numpy"], default="both")
    ap.add_argument("--child", choices=["ours", "numpy"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    rows, cols = a.rows or a.n, a.cols or a.n
    if a.child:
        child(a.child, rows, cols, a.seed)
        return
    import tempfile

    import numpy as np

    matrix_kib = rows * cols * 4 / 1024
    print(f"W: {rows} x {cols} float32 ({matrix_kib / 1024:.0f} MiB), seed {a.seed}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; {os.cpu_count()} CPUs")
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for what in (["ours", "numpy"] if a.what == "both" else [a.what]):
            env = dict(os.environ, BENCH_OUT=os.path.join(d, what))
            cmd = [sys.executable, __file__, "--child", what, "--rows", str(rows), "--cols", str(cols), "--seed", str(a.seed)]
            subprocess.run(cmd, env=env, check=True)
            with open(os.path.join(d, what + ".json")) as f:
                r = json.load(f)
            r["eigs"] = np.load(os.path.join(d, what + ".npy"))
            results[what] = r
            label = "replica_mi.wtw_eigenvalues" if what == "ours" else "numpy.linalg.svd(compute_uv=False)"
            print(f"{label:38s} {r['secs']:9.2f} s   peak memory added {r['added_kib'] / matrix_kib:5.2f} x the matrix"
                  + (f"   BLAS {r['blas']}" if r.get("blas") else ""))
    if len(results) == 2:
        e, n = results["ours"]["eigs"], results["numpy"]["eigs"]
        print(f"largest |difference| of the spectra / largest eigenvalue: {np.max(np.abs(e - n)) / e[0]:.2e}"
              " (numpy's float32 SVD is good to about 1e-7)")
        print(f"time ratio ours / numpy: {results['ours']['secs'] / results['numpy']['secs']:.2f}")


if __name__ == "__main__":
    main()
