"""Shared helpers of the Python tests: where ../shared/refs and the replica-mi binary are, and the
exact Gaussian entropy of a linear network given as explicit matrices."""

import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def refs_dir() -> pathlib.Path:
    """`../shared/refs` beside the checkout (override with REPLICA_MI_REFS, as the Rust tests)."""
    env = os.environ.get("REPLICA_MI_REFS")
    return pathlib.Path(env) if env else REPO.parent / "shared" / "refs"


@pytest.fixture(scope="session")
def refs() -> pathlib.Path:
    d = refs_dir()
    assert (d / "cases.csv").is_file(), f"reference folder missing: {d} (set REPLICA_MI_REFS)"
    return d


@pytest.fixture(scope="session")
def cli() -> str:
    """The replica-mi binary. `make python-test` builds it and sets REPLICA_MI_BIN; a missing
    binary fails the tests that need it (never a skip)."""
    path = os.environ.get("REPLICA_MI_BIN")
    assert path, "REPLICA_MI_BIN is not set (run the Python tests through `make python-test`)"
    assert os.access(path, os.X_OK), f"REPLICA_MI_BIN={path} is not an executable"
    return path


def gaussian_chain_entropy(prior_var, weights, noises):
    """H(T_L)/n_0 (nats) of x ~ N(0, prior_var I) through T_l = W_l T_{l-1} + xi_l,
    xi_l ~ N(0, noise_l I): ln det(2 pi e Sigma_L) / (2 n_0), by numpy's slogdet."""
    n0 = weights[0].shape[1]
    sigma = prior_var * np.eye(n0)
    for w, s2 in zip(weights, noises):
        sigma = w @ sigma @ w.T + s2 * np.eye(w.shape[0])
    sign, logdet = np.linalg.slogdet(sigma)
    assert sign > 0, "covariance not positive definite"
    n = sigma.shape[0]
    return (n * np.log(2 * np.pi * np.e) + logdet) / (2 * n0)
