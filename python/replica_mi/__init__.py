"""replica_mi: replica estimates of entropy, mutual information and MMSE of multi-layer
stochastic networks X -> T_1 -> ... -> T_L (Gabrie et al., NeurIPS 2018), in nats per input
dimension n_0, plus non-parametric entropy estimators (KDE bounds, kNN) on numpy arrays.

    >>> import numpy as np, replica_mi as rm
    >>> W = np.random.default_rng(0).normal(size=(300, 200)) / np.sqrt(200)
    >>> chain = rm.Chain(rm.Prior.gaussian(var=1.0),
    ...                  [rm.Layer("relu", noise_var=1e-3, weights=W)])
    >>> est = chain.solve()
    >>> round(est.entropy, 3), round(est.mutual_information, 3), round(est.mmse, 3)
    (1.078, 2.587, 0.094)

The native part is the Rust crate replica-core (no Python dependencies besides numpy).
"""

import os
from typing import Literal, Union

import numpy.typing as _npt

from ._native import (
    Candidate,
    Chain,
    Estimate,
    FailedAttempt,
    Layer,
    NotConvergedError,
    Prior,
    SpecError,
    WarmStart,
    Weights,
    __version__,
    kde_upper_bound,
    knn_entropy,
    mixture_entropy_bounds,
    pairwise_lower_bound,
    solve,
    solve_file,
    wtw_eigenvalues,
)

#: Same as :func:`solve` (the entropy is its first attribute).
entropy = solve

# Type aliases of the stubs (also importable at run time, for annotations in user code).
ArrayLike = _npt.ArrayLike
PathLike = Union[str, "os.PathLike[str]"]
ActivationName = Union[Literal["linear"], Literal["relu"], Literal["leaky-relu"], Literal["hardtanh"], Literal["sign"]]
WarmArg = Union[Estimate, WarmStart, None]
SchemeName = Union[Literal["auto"], Literal["fixed-point"], Literal["ml-vamp"]]

__all__ = [
    "ActivationName",
    "ArrayLike",
    "PathLike",
    "SchemeName",
    "WarmArg",
    "Candidate",
    "Chain",
    "Estimate",
    "FailedAttempt",
    "Layer",
    "NotConvergedError",
    "Prior",
    "SpecError",
    "WarmStart",
    "Weights",
    "__version__",
    "entropy",
    "kde_upper_bound",
    "knn_entropy",
    "mixture_entropy_bounds",
    "pairwise_lower_bound",
    "solve",
    "solve_file",
    "wtw_eigenvalues",
]
