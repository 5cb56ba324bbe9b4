"""`python -m replica_mi entropy` against the replica-mi binary: same stdout, stderr and exit
status, byte for byte (both print through the core's report module)."""

import pathlib
import subprocess
import sys

import pytest

from conftest import REPO

SPECS = sorted((REPO / "examples" / "specs").glob("*.toml"))
FLAGS = [[], ["--json"], ["--all-layers"], ["--json", "--all-layers"], ["--scheme", "ml-vamp", "--json"]]


def run_both(cli, args, cwd):
    b = subprocess.run([cli, "entropy", *args], capture_output=True, text=True, cwd=cwd)
    p = subprocess.run([sys.executable, "-m", "replica_mi", "entropy", *args], capture_output=True, text=True, cwd=cwd)
    return b, p


@pytest.mark.parametrize("flags", FLAGS, ids=[" ".join(f) or "table" for f in FLAGS])
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_same_output_as_the_binary(cli, spec, flags):
    assert SPECS, "no example specs"
    b, p = run_both(cli, [str(spec.relative_to(REPO)), *flags], REPO)
    assert b.returncode == 0, b.stderr
    assert (p.returncode, p.stdout, p.stderr) == (b.returncode, b.stdout, b.stderr)


def test_same_errors_and_exit_codes(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[prior]\nkind = "gaussian"\nvar = -1.0\n\n[[layers]]\nalpha = 1.0\nactivation = "relu"\nnoise_var = 0.01\nweights = { kind = "gaussian", var = 1.0 }\n')
    hard = tmp_path / "hard.toml"
    hard.write_text('[prior]\nkind = "binary"\np = 0.5\n\n[[layers]]\nalpha = 1.0\nactivation = "sign"\nnoise_var = 0.0\nweights = { kind = "orthogonal" }\n\n[[layers]]\nalpha = 1.0\nactivation = "relu"\nnoise_var = 0.001\nweights = { kind = "gaussian", var = 1.0 }\n')
    cases = [
        (["missing.toml"], 2),
        ([str(bad)], 2),
        ([str(hard), "--max-iter", "1"], 3),
        ([str(hard), "--max-iter", "1", "--all-layers"], 3),
        ([str(hard), "--max-iter", "1", "--all-layers", "--json"], 3),
        ([str(hard), "--tol", "2"], 2),
        ([str(hard), "--max-iter", "0"], 2),
    ]
    for args, code in cases:
        b, p = run_both(cli, args, tmp_path)
        assert b.returncode == code, (args, b.returncode, b.stderr)
        assert (p.returncode, p.stdout, p.stderr) == (b.returncode, b.stdout, b.stderr), args


def test_bad_arguments_exit_2():
    for args in [[], ["entropy"], ["entropy", "x.toml", "--scheme", "newton"], ["frobnicate"]]:
        p = subprocess.run([sys.executable, "-m", "replica_mi", *args], capture_output=True, text=True)
        assert p.returncode == 2, (args, p.stderr)
        assert "usage:" in p.stderr
