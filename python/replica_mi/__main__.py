"""``python -m replica_mi entropy SPEC.toml [--json] [--all-layers]``: the ``replica-mi``
command line's ``entropy``, from the installed package (no Rust toolchain, no binary needed).

Same output, byte for byte, and same exit status: 0 success, 2 invalid spec or arguments, 3 the
replica equations did not converge (with ``--all-layers``: for at least one truncation; every
truncation is still printed), 4 the output could not be written.
"""

import argparse
import sys
from typing import List, Optional

from . import _native  # type: ignore[attr-defined]  # the extension (no stub of its own)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m replica_mi",
        description="Replica estimates of entropy and mutual information in deep stochastic networks "
        "(nats per input dimension n_0).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    e = sub.add_parser(
        "entropy",
        help="H(T_L)/n_0, I(X;T_L)/n_0 (nats) and MMSE of X for a spec",
        description="Entropy H(T_L)/n_0, mutual information I(X;T_L)/n_0 (nats) and MMSE of X for a "
        "spec file (the TOML format of the replica-mi command line; see docs/python.md).",
    )
    e.add_argument("spec", help="the network spec (TOML)")
    e.add_argument("--json", action="store_true", help="print one JSON object (an array with --all-layers)")
    e.add_argument("--all-layers", action="store_true", help="measure every truncation T_1..T_L, first layer first")
    e.add_argument("--tol", type=float, metavar="TOL", help="convergence threshold on the order parameters")
    e.add_argument("--max-iter", type=int, metavar="N", help="largest number of sweeps per start")
    e.add_argument("--scheme", default="auto", choices=["auto", "fixed-point", "ml-vamp"],
                   help="which iteration may run (default auto: fixed point, then ML-VAMP where needed)")
    e.add_argument("--assume-invariant", action="store_true",
                   help="the weight matrices are orthogonally invariant: no note that their spectrum stands for them")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    a = _parser().parse_args(argv)
    if a.max_iter is not None and a.max_iter < 0:
        print(f"replica-mi: error: --max-iter: invalid max_iter = {a.max_iter}: must be >= 1", file=sys.stderr)
        return 2
    out, err, code = _native._cli_entropy(
        a.spec, json=a.json, all_layers=a.all_layers, tol=a.tol, max_iter=a.max_iter, scheme=a.scheme,
        assume_invariant=a.assume_invariant,
    )
    for line in err:
        print(line, file=sys.stderr)
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # `| head`: not an error, as for the binary
    except OSError as e:
        print(f"replica-mi: error: writing to stdout: {e}", file=sys.stderr)
        return 4
    return code


if __name__ == "__main__":
    sys.exit(main())
