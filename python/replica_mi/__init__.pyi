"""Type stubs of replica_mi (the native module replica_mi._native, re-exported)."""

import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, final, overload

import numpy as np
import numpy.typing as npt

__version__: str

__all__ = [
    "ActivationName",
    "ArrayLike",
    "Candidate",
    "Chain",
    "Estimate",
    "FailedAttempt",
    "Layer",
    "NotConvergedError",
    "PathLike",
    "Prior",
    "SchemeName",
    "SpecError",
    "WarmArg",
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

ArrayLike = npt.ArrayLike
PathLike = Union[str, "os.PathLike[str]"]
ActivationName = Union[Literal["linear"], Literal["relu"], Literal["leaky-relu"], Literal["hardtanh"], Literal["sign"]]
WarmArg = Union["Estimate", "WarmStart", None]
SchemeName = Union[Literal["auto"], Literal["fixed-point"], Literal["ml-vamp"]]

class SpecError(ValueError):
    """Invalid network description (spec file, prior, layer, weights, weight file)."""

    field: Optional[str]
    """The offending field, e.g. 'layers[1].alpha', when there is one."""

class NotConvergedError(RuntimeError):
    """The replica equations could not be solved."""

    reasons: List[str]
    """One message per failed solve, with what every start and scheme ran into."""
    attempts: List["FailedAttempt"]
    """Every failed start of every failed solve, typed."""
    partial: Optional[List[Optional["Estimate"]]]
    """With all_layers=True: the estimates of the truncations that converged (None elsewhere)."""

_StartKind = Literal["index", "warm", "given", "continuation"]

@final
class FailedAttempt:
    """One start that gave no answer (in NotConvergedError.attempts)."""

    @property
    def layer(self) -> Optional[int]: ...
    @property
    def scheme(self) -> Optional[Literal["fixed-point", "ml-vamp"]]: ...
    @property
    def start(self) -> Optional[int]: ...
    @property
    def start_kind(self) -> _StartKind: ...
    @property
    def outcome(
        self,
    ) -> Literal["exhausted", "broken-bound", "non-finite", "out-of-time", "continuation", "error"]: ...
    @property
    def bound(self) -> Optional[str]: ...
    @property
    def value(self) -> Optional[float]: ...
    @property
    def limit(self) -> Optional[float]: ...
    @property
    def sweeps(self) -> Optional[int]: ...
    @property
    def residual(self) -> Optional[float]: ...
    @property
    def message(self) -> str: ...

@final
class Candidate:
    """One start of a solve and the stationary point it reached (Estimate.candidates)."""

    @property
    def scheme(self) -> Optional[Literal["fixed-point", "ml-vamp"]]: ...
    @property
    def start(self) -> Optional[int]: ...
    @property
    def start_kind(self) -> _StartKind: ...
    @property
    def converged(self) -> bool: ...
    @property
    def entropy(self) -> Optional[float]: ...
    @property
    def iterations(self) -> Optional[int]: ...
    @property
    def residual(self) -> Optional[float]: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def selected(self) -> bool: ...
    @property
    def failure(self) -> Optional[str]: ...
    @property
    def message(self) -> str: ...

@final
class Prior:
    """The prior of the input X (i.i.d. entries)."""

    def __reduce__(self) -> Tuple[Any, Tuple[str, Any]]: ...

    @staticmethod
    def gaussian(var: float = 1.0, mean: float = 0.0) -> "Prior": ...
    @staticmethod
    def binary(p: float = 0.5) -> "Prior": ...
    @staticmethod
    def gauss_bernoulli(p: float, var: float = 1.0, mean: float = 0.0) -> "Prior": ...

@final
class Weights:
    """The weights of one layer: an ensemble, a spectrum of W^T W, or a matrix W (n_l x n_(l-1))."""

    def __reduce__(self) -> Tuple[Any, Tuple[str, Any]]: ...

    @staticmethod
    def gaussian(var: float = 1.0) -> "Weights": ...
    @staticmethod
    def orthogonal() -> "Weights": ...
    @staticmethod
    def spectrum(eigenvalues: ArrayLike, scale: float = 1.0) -> "Weights": ...
    @staticmethod
    def matrix(w: ArrayLike, scale: float = 1.0) -> "Weights": ...
    @staticmethod
    def file(path: PathLike, tensor: Optional[str] = None, scale: float = 1.0) -> "Weights": ...
    @property
    def kind(self) -> Literal["gaussian", "orthogonal", "spectrum", "matrix"]: ...
    @property
    def shape(self) -> Optional[Tuple[int, int]]: ...

@final
class Layer:
    """One layer T_l = phi(W_l T_(l-1) + xi_l), xi_l ~ N(0, noise_var)."""

    def __new__(
        cls,
        activation: ActivationName,
        noise_var: float,
        weights: Union[Weights, ArrayLike],
        alpha: Optional[float] = None,
        slope: Optional[float] = None,
        threshold: Optional[float] = None,
    ) -> "Layer": ...
    @property
    def alpha(self) -> Optional[float]: ...
    @property
    def noise_var(self) -> float: ...
    @property
    def activation(self) -> str: ...
    def __reduce__(self) -> Tuple[Any, Tuple[str, Any]]: ...

@final
class WarmStart:
    """The stationary point (and secants) of an earlier solve."""

    def __reduce__(self) -> Tuple[Any, Tuple[str, Any]]: ...

    @property
    def n_layers(self) -> int: ...

@final
class Estimate:
    """The replica estimate for one measured layer T_l, in nats per input dimension n_0."""

    def __reduce__(self) -> Tuple[Any, Tuple[str, Any]]: ...

    @property
    def layer(self) -> int: ...
    @property
    def entropy(self) -> float: ...
    @property
    def mutual_information(self) -> Optional[float]: ...
    @property
    def mi_last_layer(self) -> float: ...
    @property
    def mmse(self) -> float: ...
    @property
    def scheme(self) -> Literal["fixed-point", "ml-vamp"]: ...
    @property
    def iterations(self) -> int: ...
    @property
    def residual(self) -> float: ...
    @property
    def counters(self) -> Dict[str, int]: ...
    @property
    def order_params(self) -> Dict[str, npt.NDArray[np.float64]]: ...
    @property
    def warm_start(self) -> WarmStart: ...
    @property
    def candidates(self) -> Optional[List[Candidate]]: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class Chain:
    """A checked network: a prior and layers, first layer first."""

    def __reduce__(self) -> Tuple[Any, Tuple[str, Any]]: ...

    def __new__(
        cls,
        prior: Prior,
        layers: Sequence[Layer],
        *,
        assume_invariant: bool = False,
        notes: Optional[Sequence[str]] = None,
    ) -> "Chain": ...
    @staticmethod
    def from_file(path: PathLike, *, assume_invariant: bool = False) -> "Chain": ...
    @staticmethod
    def from_toml(
        text: str, base_dir: Optional[PathLike] = None, *, assume_invariant: bool = False
    ) -> "Chain": ...
    @overload
    def solve(
        self,
        *,
        all_layers: Optional[Literal[False]] = ...,
        warm_start: WarmArg = None,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        scheme: Optional[SchemeName] = ...,
        start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
        return_candidates: Optional[bool] = ...,
        verbose: Optional[bool] = ...,
    ) -> Estimate: ...
    @overload
    def solve(
        self,
        *,
        all_layers: Literal[True],
        warm_start: Optional[Sequence[WarmArg]] = None,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        scheme: Optional[SchemeName] = ...,
        start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
        return_candidates: Optional[bool] = ...,
        verbose: Optional[bool] = ...,
    ) -> List[Estimate]: ...
    @overload
    def solve(
        self,
        *,
        all_layers: bool,
        warm_start: Union[WarmArg, Sequence[WarmArg]] = None,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        scheme: Optional[SchemeName] = ...,
        start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
        return_candidates: Optional[bool] = ...,
        verbose: Optional[bool] = ...,
    ) -> Union[Estimate, List[Estimate]]: ...
    @overload
    def entropy(
        self,
        *,
        all_layers: Optional[Literal[False]] = ...,
        warm_start: WarmArg = None,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        scheme: Optional[SchemeName] = ...,
        start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
        return_candidates: Optional[bool] = ...,
        verbose: Optional[bool] = ...,
    ) -> Estimate: ...
    @overload
    def entropy(
        self,
        *,
        all_layers: Literal[True],
        warm_start: Optional[Sequence[WarmArg]] = None,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        scheme: Optional[SchemeName] = ...,
        start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
        return_candidates: Optional[bool] = ...,
        verbose: Optional[bool] = ...,
    ) -> List[Estimate]: ...
    @overload
    def entropy(
        self,
        *,
        all_layers: bool,
        warm_start: Union[WarmArg, Sequence[WarmArg]] = None,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        scheme: Optional[SchemeName] = ...,
        start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
        return_candidates: Optional[bool] = ...,
        verbose: Optional[bool] = ...,
    ) -> Union[Estimate, List[Estimate]]: ...
    def __len__(self) -> int: ...
    @property
    def alphas(self) -> List[float]: ...
    @property
    def notes(self) -> List[str]: ...

@overload
def solve(
    chain: Chain,
    *,
    all_layers: Optional[Literal[False]] = ...,
    warm_start: WarmArg = None,
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
    scheme: Optional[SchemeName] = ...,
    start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
    return_candidates: Optional[bool] = ...,
    verbose: Optional[bool] = ...,
) -> Estimate: ...
@overload
def solve(
    chain: Chain,
    *,
    all_layers: Literal[True],
    warm_start: Optional[Sequence[WarmArg]] = None,
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
    scheme: Optional[SchemeName] = ...,
    start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
    return_candidates: Optional[bool] = ...,
    verbose: Optional[bool] = ...,
) -> List[Estimate]: ...
@overload
def solve(
    chain: Chain,
    *,
    all_layers: bool,
    warm_start: Union[WarmArg, Sequence[WarmArg]] = None,
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
    scheme: Optional[SchemeName] = ...,
    start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
    return_candidates: Optional[bool] = ...,
    verbose: Optional[bool] = ...,
) -> Union[Estimate, List[Estimate]]: ...

entropy = solve

@overload
def solve_file(
    path: PathLike,
    *,
    all_layers: Optional[Literal[False]] = ...,
    warm_start: WarmArg = None,
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
    scheme: Optional[SchemeName] = ...,
    assume_invariant: bool = False,
    start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
    return_candidates: Optional[bool] = ...,
    verbose: Optional[bool] = ...,
) -> Estimate: ...
@overload
def solve_file(
    path: PathLike,
    *,
    all_layers: Literal[True],
    warm_start: Optional[Sequence[WarmArg]] = None,
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
    scheme: Optional[SchemeName] = ...,
    assume_invariant: bool = False,
    start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
    return_candidates: Optional[bool] = ...,
    verbose: Optional[bool] = ...,
) -> List[Estimate]: ...
@overload
def solve_file(
    path: PathLike,
    *,
    all_layers: bool,
    warm_start: Union[WarmArg, Sequence[WarmArg]] = None,
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
    scheme: Optional[SchemeName] = ...,
    assume_invariant: bool = False,
    start_at: Union["Estimate", "WarmStart", Sequence[float], None] = None,
    return_candidates: Optional[bool] = ...,
    verbose: Optional[bool] = ...,
) -> Union[Estimate, List[Estimate]]: ...
def kde_upper_bound(samples: ArrayLike, s2: float) -> float: ...
def pairwise_lower_bound(samples: ArrayLike, s2: float) -> float: ...
def mixture_entropy_bounds(samples: ArrayLike, s2: float) -> Tuple[float, float]: ...
def knn_entropy(samples: ArrayLike, k: int = 3) -> float: ...
def wtw_eigenvalues(w: ArrayLike) -> npt.NDArray[np.float64]: ...
