"""PyTorch helpers: USV layers (the networks for which the replica formula is exact), chains built
from a module or a state dict, and a tracker of I(X;T_l) that a training loop calls once per epoch.

Imported only on request (``import replica_mi.torch``) and only where PyTorch is installed:
PyTorch is not a dependency of replica_mi.

    >>> import torch, replica_mi.torch as rmt
    >>> net = torch.nn.Sequential(rmt.USVLinear(50, 100, activation="relu", seed=0),
    ...                           rmt.USVLinear(100, 20, seed=1))
    >>> tracker = rmt.MITracker(net, noise_var=1e-5)
    >>> rows = tracker(epoch=0)          # one dict per layer: I(X;T_l), H(T_l), MMSE, ...

Every tensor is read with ``detach().to("cpu", torch.float64)``: any device, with or without
grad, in bfloat16, float16, float32 or float64 (the conversion to float64 is exact).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as _e:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "replica_mi.torch needs PyTorch (pip install torch); the rest of replica_mi works without it"
    ) from _e

from . import Chain, Layer, NotConvergedError, Prior, Weights

__all__ = [
    "USVLinear",
    "MITracker",
    "chain_from_module",
    "chain_from_state_dict",
    "to_numpy",
]

#: The activations a USVLinear applies itself (those of the training side, src/nn).
USV_ACTIVATIONS = ("linear", "relu", "hardtanh")

NoiseArg = Union[float, Sequence[float]]


def to_numpy(t: Any) -> np.ndarray:
    """A tensor (any device, grad or not, any float dtype) or array as a float64 numpy array.
    bfloat16 and float16 convert exactly; so does float32."""
    if isinstance(t, torch.Tensor):
        if not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
            raise TypeError(f"expected a real tensor, got dtype {t.dtype}")
        return t.detach().to("cpu", torch.float64).numpy()
    return np.asarray(t, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# USV layers


class USVLinear(nn.Module):
    """``W = U diag(s) V^T`` (``out_features x in_features``, no bias): ``U`` and ``V`` frozen,
    only the ``k = min(in, out)`` singular values ``s`` trained.

    At construction a Gaussian ``G`` (entries ``N(0, coef^2 / in_features)``, drawn in float64 by a
    ``torch.Generator`` seeded with ``seed``) is factored by a thin SVD ``G = U_k diag(s_0) V_k^T``:
    at initialisation ``W = G``, and ``U_k``, ``V_k`` (the singular vectors of a Gaussian matrix:
    Haar-distributed) stay fixed. The forward pass is ``phi(((x V_k) * s) U_k^T)``, as the Rust
    training side (``src/nn/layer.rs``) computes it; ``phi`` is ``activation``. ``U_k^T`` and
    ``V_k`` are buffers (saved in the state dict as ``u_k_t`` and ``v_k``), ``s`` the parameter.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: str = "linear",
        coef: float = 1.0,
        seed: Optional[int] = None,
        dtype: torch.dtype = torch.float32,
        device: Optional[Union[str, torch.device]] = None,
    ) -> None:
        super().__init__()
        if not (isinstance(in_features, int) and isinstance(out_features, int)) or min(in_features, out_features) < 1:
            raise ValueError(f"in_features, out_features: positive integers, got {in_features}, {out_features}")
        if activation not in USV_ACTIVATIONS:
            raise ValueError(f"activation: one of {USV_ACTIVATIONS}, got {activation!r}")
        if not (math.isfinite(coef) and coef > 0):
            raise ValueError(f"coef = {coef}: must be finite and > 0")
        gen = torch.Generator(device="cpu")
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        g = torch.randn(out_features, in_features, generator=gen, dtype=torch.float64)
        g *= coef / math.sqrt(in_features)
        u, s, vh = torch.linalg.svd(g, full_matrices=False)
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.register_buffer("v_k", vh.T.contiguous().to(dtype=dtype, device=device))
        self.register_buffer("u_k_t", u.T.contiguous().to(dtype=dtype, device=device))
        self.s = nn.Parameter(s.to(dtype=dtype, device=device))

    def linear(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation ``x W^T = ((x V_k) * s) U_k^T``."""
        return ((x @ self.v_k) * self.s) @ self.u_k_t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        if self.activation == "relu":
            return torch.relu(z)
        if self.activation == "hardtanh":
            return torch.clamp(z, -1.0, 1.0)
        return z

    def weight(self) -> torch.Tensor:
        """The explicit ``W`` (``out x in``), formed from the factors (up to rounding)."""
        return (self.u_k_t.T * self.s) @ self.v_k.T

    def spectrum(self) -> np.ndarray:
        """The ``in_features`` eigenvalues of ``W^T W``: ``s_i^2`` in float64 followed by
        ``in_features - k`` zeros. No decomposition."""
        return usv_spectrum(self.s, self.in_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation!r}"


def usv_spectrum(s: Any, in_features: int) -> np.ndarray:
    """``s^2`` (float64, exact squares of the float64 values of ``s``) padded with zeros to
    ``in_features`` entries: the eigenvalues of ``W^T W`` of a USV layer."""
    sv = to_numpy(s).reshape(-1)
    if sv.size > in_features:
        raise ValueError(f"{sv.size} singular values for {in_features} inputs")
    eig = np.zeros(in_features, dtype=np.float64)
    eig[: sv.size] = sv * sv
    return eig


# ---------------------------------------------------------------------------------------------
# chains


def _noises(noise_var: NoiseArg, n: int) -> List[float]:
    """One noise variance per layer: a sequence of n, or a number for the last layer with the
    inner layers noiseless (the paper's setting, where I(X;T_l) is defined)."""
    if isinstance(noise_var, (int, float)):
        return [0.0] * (n - 1) + [float(noise_var)]
    out = [float(v) for v in noise_var]
    if len(out) != n:
        raise ValueError(f"noise_var: {len(out)} values for {n} layers (one per layer, or one number for the last)")
    return out


def _activation_of(m: nn.Module) -> Optional[Tuple[str, Dict[str, float]]]:
    """The replica activation of an activation module (None if m is not one)."""
    if isinstance(m, nn.ReLU):
        return "relu", {}
    if isinstance(m, nn.LeakyReLU):
        return "leaky-relu", {"slope": float(m.negative_slope)}
    if isinstance(m, nn.Hardtanh) and not isinstance(m, nn.ReLU6):
        if m.min_val != -m.max_val:
            raise ValueError(f"{m}: only a symmetric Hardtanh (min_val = -max_val) is a replica channel")
        return "hardtanh", {"threshold": float(m.max_val)}
    if isinstance(m, nn.Identity):
        return "linear", {}
    return None


def _module_layers(model: nn.Module) -> List[Tuple[str, nn.Module, Optional[nn.Module]]]:
    """(name, layer, the module after it) for each Linear / USVLinear, in module order; the module
    after it skips Dropout and Flatten (None: nothing follows)."""
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    out: List[Tuple[str, nn.Module, Optional[nn.Module]]] = []
    for i, (name, m) in enumerate(leaves):
        if isinstance(m, (nn.Linear, USVLinear)):
            j = i + 1
            while j < len(leaves) and isinstance(leaves[j][1], (nn.Dropout, nn.Flatten)):
                j += 1
            out.append((name or type(m).__name__, m, leaves[j][1] if j < len(leaves) else None))
    return out


def _activation_after(name: str, nxt: Optional[nn.Module]) -> Tuple[str, Dict[str, float]]:
    """The activation a layer's next module applies: linear when nothing or another layer
    follows; an error for a module that is not a replica channel."""
    if nxt is None or isinstance(nxt, (nn.Linear, USVLinear)):
        return "linear", {}
    act = _activation_of(nxt)
    if act is None:
        raise ValueError(
            f"{name}: followed by {type(nxt).__name__}, which is not a replica channel (ReLU, LeakyReLU, "
            "symmetric Hardtanh, Identity); pass activations=[...] (one name per layer) to say what to use"
        )
    return act


def chain_from_module(
    model: nn.Module,
    *,
    prior: Optional[Prior] = None,
    noise_var: NoiseArg = 1e-5,
    n_layers: Optional[int] = None,
    activations: Optional[Sequence[str]] = None,
    input_layers: Sequence[Layer] = (),
    assume_invariant: bool = False,
) -> Chain:
    """The replica chain of the ``Linear`` / ``USVLinear`` layers of ``model``, in module order
    (the first ``n_layers`` of them when given).

    * A ``USVLinear`` hands over its spectrum ``s^2`` (padded with zeros) directly: no SVD, no
      assumption. An ``nn.Linear`` hands over its weight matrix: the chain's spectrum of it is
      computed in float64, and a note (one ``UserWarning`` per chain) says that its singular
      vectors are treated as Haar-random, unless ``assume_invariant=True``. Biases are ignored
      (a note says so).
    * Activations: a ``USVLinear``'s own, else the activation module (``nn.ReLU``,
      ``nn.LeakyReLU``, symmetric ``nn.Hardtanh``, ``nn.Identity``) that follows the layer in
      module order (``nn.Dropout`` / ``nn.Flatten`` in between are skipped), else linear. Models
      whose ``forward`` applies functions (``F.relu``) are invisible here: pass ``activations``
      (``"linear"``, ``"relu"``, ``"leaky-relu"``, ``"hardtanh"``, ``"sign"``; one per layer).
    * ``noise_var``: one number (the last layer's noise, inner layers noiseless: the paper's
      setting) or one per layer. ``prior``: ``Prior.gaussian()`` by default.
    * ``input_layers``: replica ``Layer`` objects placed before the network (e.g. the layer of a
      generative model that makes the data from a latent variable).
    """
    found = _module_layers(model)
    if not found:
        raise ValueError("model: no nn.Linear or USVLinear layer found")
    if n_layers is not None:
        if not (isinstance(n_layers, int) and 1 <= n_layers <= len(found)):
            raise ValueError(f"n_layers = {n_layers}: between 1 and the {len(found)} layers of the model")
        found = found[:n_layers]
    if activations is not None and len(activations) != len(found):
        raise ValueError(f"activations: {len(activations)} names for {len(found)} layers")
    noises = _noises(noise_var, len(found))
    layers: List[Layer] = list(input_layers)
    biases: List[str] = []
    for k, (name, m, nxt) in enumerate(found):
        params: Dict[str, float] = {}
        if activations is not None:
            act = activations[k]
        else:
            act, params = _activation_after(name, nxt)
            if isinstance(m, USVLinear) and m.activation != "linear":
                if act != "linear":
                    raise ValueError(f"{name}: a USVLinear with activation {m.activation!r} followed by another activation ({act})")
                act = m.activation
        if isinstance(m, USVLinear):
            weights = Weights.spectrum(m.spectrum())
            alpha: Optional[float] = m.out_features / m.in_features
        else:
            if getattr(m, "bias", None) is not None:
                biases.append(f"{name}.bias")
            weights = Weights.matrix(to_numpy(m.weight))
            alpha = None
        layers.append(Layer(act, noises[k], weights, alpha=alpha, **params))
    return Chain(prior or Prior.gaussian(), layers, assume_invariant=assume_invariant, notes=_bias_notes(biases))


def _bias_notes(biases: Sequence[str]) -> List[str]:
    if not biases:
        return []
    return [
        f"{', '.join(biases)}: biases are ignored (the replica formula describes T_l = phi(W_l T_(l-1) + noise) without them)"
    ]


def chain_from_state_dict(
    state_dict: Dict[str, Any],
    layers: Sequence[Tuple[str, str]],
    *,
    prior: Optional[Prior] = None,
    noise_var: NoiseArg = 1e-5,
    input_layers: Sequence[Layer] = (),
    assume_invariant: bool = False,
) -> Chain:
    """The chain of the listed layers of a state dict: ``layers=[("fc1.weight", "relu"),
    ("fc2.weight", "linear"), ...]`` (input side first). Values may be tensors (any device, with
    grad, bfloat16 / float16 / float32 / float64) or numpy arrays.

    A ``*.weight`` entry is a matrix ``n_l x n_(l-1)`` (PyTorch's orientation): a note (one
    ``UserWarning`` per chain) says its singular vectors are treated as Haar-random unless
    ``assume_invariant=True``; a ``*.bias`` beside it is ignored, and a note says so. A USVLinear's
    singular values (``"0.s"``, with ``"0.v_k"`` beside it giving ``in_features``) enter as the
    spectrum ``s^2`` itself. ``noise_var``, ``prior`` and ``input_layers`` as in
    :func:`chain_from_module`.
    """
    if not layers:
        raise ValueError("layers: at least one (key, activation) pair")
    noises = _noises(noise_var, len(layers))
    out: List[Layer] = list(input_layers)
    biases: List[str] = []
    for k, item in enumerate(layers):
        try:
            key, act = item
        except (TypeError, ValueError):
            raise TypeError(f"layers[{k}]: a (key, activation) pair, got {item!r}") from None
        if key not in state_dict:
            known = ", ".join(sorted(state_dict)[:20])
            raise KeyError(f"layers[{k}]: no entry {key!r} in the state dict (it has: {known})")
        prefix = key[: -len(".s")] if key.endswith(".s") else None
        if key == "s" or (prefix is not None and f"{prefix}.v_k" in state_dict):
            v_k = state_dict["v_k" if key == "s" else f"{prefix}.v_k"]
            in_features = int(v_k.shape[0])
            s = state_dict[key]
            weights = Weights.spectrum(usv_spectrum(s, in_features))
            u_k_t = state_dict.get("u_k_t" if key == "s" else f"{prefix}.u_k_t")
            if u_k_t is None:
                raise KeyError(f"layers[{k}]: {key!r} is a USV layer's s, but its u_k_t is missing")
            alpha: Optional[float] = int(u_k_t.shape[1]) / in_features
        else:
            weights = Weights.matrix(to_numpy(state_dict[key]))
            alpha = None
            if key.endswith(".weight") and key[: -len(".weight")] + ".bias" in state_dict:
                biases.append(key[: -len(".weight")] + ".bias")
        out.append(Layer(act, noises[k], weights, alpha=alpha))
    return Chain(prior or Prior.gaussian(), out, assume_invariant=assume_invariant, notes=_bias_notes(biases))


# ---------------------------------------------------------------------------------------------
# the tracker

ChainSource = Union[nn.Module, Callable[[], Chain]]


class MITracker:
    """``I(X;T_l)``, ``H(T_l)`` and the MMSE of every layer, measured along training.

    ``source``: a module (its chain from :func:`chain_from_module` with ``chain_options``) or a
    function returning the current :class:`Chain`. Call the tracker once per epoch (or every
    step, with ``every=k`` to measure every k-th call): it builds the chain, solves every
    truncation ``T_1..T_L`` (``solve(all_layers=True)``), each warm-started from its previous
    stationary point, and appends one row per layer to :attr:`rows`. The first ``len(input_layers)``
    truncations (layers before the network) are solved but not recorded.

    A truncation that does not converge is recorded with ``converged=False``, its ``error`` and
    None values (the previous warm start is kept for it).
    """

    def __init__(
        self,
        source: ChainSource,
        *,
        every: int = 1,
        warm_start: bool = True,
        tol: Optional[float] = None,
        max_iter: Optional[int] = None,
        **chain_options: Any,
    ) -> None:
        if not (isinstance(every, int) and every >= 1):
            raise ValueError(f"every = {every!r}: an integer >= 1")
        if isinstance(source, nn.Module):
            model = source
            self._build: Callable[[], Chain] = lambda: chain_from_module(model, **chain_options)
            self._names: Optional[List[str]] = [n for n, _, _ in _module_layers(model)]
        elif callable(source):
            if chain_options:
                raise TypeError(f"chain options {sorted(chain_options)} apply to a module source only")
            self._build = source
            self._names = None
        else:
            raise TypeError(f"source: an nn.Module or a function returning a Chain, got {type(source).__name__}")
        self._skip = len(chain_options.get("input_layers", ()))
        self.every = every
        self.warm_start = warm_start
        self.tol = tol
        self.max_iter = max_iter
        self.rows: List[Dict[str, Any]] = []
        self.calls = 0
        self._warm: Optional[List[Any]] = None

    def __call__(self, epoch: Optional[int] = None, step: Optional[int] = None) -> Optional[List[Dict[str, Any]]]:
        """Count a call; measure on the first and on every ``every``-th one after it. Returns
        the new rows, or None when this call does not measure."""
        due = self.calls % self.every == 0
        self.calls += 1
        return self.measure(epoch=epoch, step=step) if due else None

    def measure(self, epoch: Optional[int] = None, step: Optional[int] = None) -> List[Dict[str, Any]]:
        """Measure now (whatever ``every`` says): the new rows."""
        chain = self._build()
        n = len(chain)
        warm = self._warm if (self.warm_start and self._warm is not None and len(self._warm) == n) else None
        try:
            results = chain.solve(all_layers=True, warm_start=warm, tol=self.tol, max_iter=self.max_iter)
            errors: Dict[int, str] = {}
        except NotConvergedError as e:
            results = list(e.partial)
            errors = {}
            for r in e.reasons:
                # "layer K: message"
                head, _, msg = r.partition(": ")
                if head.startswith("layer "):
                    errors[int(head.split()[1]) - 1] = msg
        new_warm: List[Any] = []
        rows: List[Dict[str, Any]] = []
        for k, est in enumerate(results):
            new_warm.append(est if est is not None else (warm[k] if warm is not None else None))
            if k < self._skip:
                continue
            layer = k - self._skip + 1
            row: Dict[str, Any] = {
                "epoch": epoch,
                "step": step,
                "layer": layer,
                "name": self._names[layer - 1] if self._names is not None and layer - 1 < len(self._names) else None,
                "converged": est is not None,
                "mutual_information": None,
                "mi_last_layer": None,
                "entropy": None,
                "mmse": None,
                "scheme": None,
                "iterations": None,
                "residual": None,
                "warm_started": warm is not None and warm[k] is not None,
                "error": errors.get(k) if est is None else None,
            }
            if est is not None:
                row.update(
                    mutual_information=est.mutual_information,
                    mi_last_layer=est.mi_last_layer,
                    entropy=est.entropy,
                    mmse=est.mmse,
                    scheme=est.scheme,
                    iterations=est.iterations,
                    residual=est.residual,
                )
            rows.append(row)
        self._warm = new_warm
        self.rows.extend(rows)
        return rows

    def table(self) -> List[Dict[str, Any]]:
        """Every row so far (a copy): one dict per layer per measurement."""
        return [dict(r) for r in self.rows]

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("MITracker.to_pandas needs pandas (pip install pandas); table() gives the rows as dicts") from e
        return pd.DataFrame(self.table())
