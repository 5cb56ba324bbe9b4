"""The Python API: results, all layers at once, warm starts, solve_file, typed exceptions (never a
panic), the non-parametric estimators against a numpy implementation of their formulas, the GIL
released during solves, and the type stubs in step with the module."""

import math
import pathlib
import threading
import time

import numpy as np
import pytest

import replica_mi as rm

# ../shared/refs/cases.csv row c049: Gaussian prior, one linear layer, alpha 0.5, Gaussian weights
# var 1, noise 0.01 (exact, Marchenko-Pastur integral)
C049 = dict(entropy=0.6376598551679125, mi=1.0794831350625989, mmse=0.5096223724424931)

C049_SPEC = """
[prior]
kind = "gaussian"
var = 1.0

[[layers]]
alpha = 0.5
activation = "linear"
noise_var = 0.01
weights = { kind = "gaussian", var = 1.0 }
"""


def c049():
    return rm.Chain(rm.Prior.gaussian(var=1.0), [rm.Layer("linear", 0.01, rm.Weights.gaussian(1.0), alpha=0.5)])


def two_layer(scale=1.0, second=None):
    return rm.Chain(
        rm.Prior.gaussian(),
        [
            rm.Layer("relu", 0.0, rm.Weights.gaussian(scale), alpha=1.0),
            rm.Layer("hardtanh", 1e-3, second or rm.Weights.orthogonal(), alpha=0.8),
        ],
    )


def test_result_object():
    est = c049().solve()
    assert isinstance(est, rm.Estimate)
    # exact rows: 1e-8 (tests/refs_cases.rs); MMSE: max(1e-8, 1e-6) relative
    assert abs(est.entropy - C049["entropy"]) < 1e-8
    assert abs(est.mutual_information - C049["mi"]) < 1e-8
    assert abs(est.mmse - C049["mmse"]) < 1e-6 * (1 + C049["mmse"])
    assert est.scheme in ("fixed-point", "ml-vamp")
    assert est.iterations >= 1 and est.layer == 1
    assert set(est.counters) >= {"sweeps_fixed_point", "sweeps_vamp", "starts_tried", "starts_converged", "evals"}
    op = est.order_params
    assert set(op) == {"v", "a", "a_t", "v_t", "theta"}
    assert all(isinstance(v, np.ndarray) and v.shape == (1,) for v in op.values())
    assert op["v"][0] == est.mmse  # V of the input layer is the MMSE of X
    d = est.to_dict()
    assert d["entropy"] == est.entropy and d["scheme"] == est.scheme
    assert not hasattr(est, "converged")  # failures raise; there is no flag to forget to check
    assert rm.entropy(c049()).entropy == est.entropy
    assert c049().entropy().entropy == est.entropy


def test_solve_file_and_from_toml(tmp_path):
    p = tmp_path / "c049.toml"
    p.write_text(C049_SPEC)
    est = rm.solve_file(p)
    assert abs(est.entropy - C049["entropy"]) < 1e-8
    assert abs(est.mutual_information - C049["mi"]) < 1e-8
    assert abs(est.mmse - C049["mmse"]) < 1e-6 * (1 + C049["mmse"])
    assert est.scheme in ("fixed-point", "ml-vamp")
    assert rm.solve_file(str(p)).entropy == est.entropy
    assert rm.Chain.from_toml(C049_SPEC).solve().entropy == est.entropy
    assert rm.solve(c049()).entropy == est.entropy


def test_all_layers():
    chain = two_layer()
    res = chain.solve(all_layers=True)
    assert [r.layer for r in res] == [1, 2]
    # truncation l is the chain cut after layer l, measured with the output noise
    first = rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 1e-3, rm.Weights.gaussian(1.0), alpha=1.0)]).solve()
    assert res[0].entropy == first.entropy
    assert res[1].entropy == chain.solve().entropy
    # noiseless inner layer: I(X;T_2) defined; noisy inner layer: None, mi_last_layer given
    assert res[1].mutual_information is not None
    noisy = rm.Chain(
        rm.Prior.gaussian(),
        [rm.Layer("relu", 0.01, rm.Weights.gaussian(), alpha=1.0), rm.Layer("relu", 0.01, rm.Weights.gaussian(), alpha=1.0)],
    ).solve()
    assert noisy.mutual_information is None and math.isfinite(noisy.mi_last_layer)


def test_warm_start_carried_between_calls():
    """A training loop: the weights change a little from epoch to epoch; each solve starts from
    the previous stationary point. Same answer as a cold solve (to the solver tolerance, 1e-9
    relative per sweep, so 1e-7 absolute on entropies of order 1), with fewer sweeps. (Gaussian
    weights: warm starts run the fixed-point scheme, and a chain whose cold solve needs ML-VAMP,
    as with orthogonal weights, gains nothing from them.)"""
    prev = None
    prev_all = None
    warm_sweeps = cold_sweeps = 0
    for epoch, scale in enumerate(np.linspace(1.0, 1.1, 4)):
        chain = two_layer(scale, rm.Weights.gaussian(1.0))
        cold = chain.solve()
        warm = chain.solve(warm_start=prev)
        assert abs(warm.entropy - cold.entropy) < 1e-7, (epoch, warm.entropy, cold.entropy)
        all_warm = chain.solve(all_layers=True, warm_start=prev_all)
        assert abs(all_warm[-1].entropy - cold.entropy) < 1e-7
        if prev is not None:
            warm_sweeps += warm.counters["sweeps_fixed_point"] + warm.counters["sweeps_vamp"]
            cold_sweeps += cold.counters["sweeps_fixed_point"] + cold.counters["sweeps_vamp"]
        prev, prev_all = warm, all_warm
    assert warm_sweeps < cold_sweeps, (warm_sweeps, cold_sweeps)
    # a WarmStart object works as well as the Estimate
    ws = prev.warm_start
    assert isinstance(ws, rm.WarmStart) and ws.n_layers == 2
    assert abs(two_layer(1.1, rm.Weights.gaussian(1.0)).solve(warm_start=ws).entropy - prev.entropy) < 1e-7


def test_warm_start_mismatch_is_an_error():
    one = c049().solve()
    with pytest.raises(ValueError, match="warm start of a 1-layer chain"):
        two_layer().solve(warm_start=one)
    with pytest.raises(ValueError, match="1 entries for a 2-layer chain"):
        two_layer().solve(all_layers=True, warm_start=[one])
    with pytest.raises(TypeError):
        two_layer().solve(warm_start="previous")


def test_not_converged_is_typed_with_reasons():
    with pytest.raises(rm.NotConvergedError) as ei:
        two_layer().solve(max_iter=1)
    e = ei.value
    assert isinstance(e, RuntimeError)
    assert len(e.reasons) == 1 and "did not converge" in e.reasons[0], e.reasons
    with pytest.raises(rm.NotConvergedError) as ei:
        two_layer().solve(max_iter=1, all_layers=True)
    assert len(ei.value.partial) == 2 and len(ei.value.reasons) >= 1


def bad_inputs():
    w = rm.Weights.gaussian()
    return [
        ("prior var < 0", lambda: rm.Prior.gaussian(var=-1.0), rm.SpecError),
        ("prior var nan", lambda: rm.Prior.gaussian(var=float("nan")), rm.SpecError),
        ("binary p = 1", lambda: rm.Prior.binary(1.0), rm.SpecError),
        ("weights var 0", lambda: rm.Weights.gaussian(0.0), rm.SpecError),
        ("spectrum negative", lambda: rm.Weights.spectrum([1.0, -1.0]), rm.SpecError),
        ("spectrum all zero", lambda: rm.Weights.spectrum(np.zeros(4)), rm.SpecError),
        ("spectrum 2-D", lambda: rm.Weights.spectrum(np.ones((2, 2))), rm.SpecError),
        ("spectrum text", lambda: rm.Weights.spectrum(["a", "b"]), rm.SpecError),
        ("matrix nan", lambda: rm.Weights.matrix([[1.0, float("nan")]]), rm.SpecError),
        ("matrix 1-D", lambda: rm.Weights.matrix(np.ones(3)), rm.SpecError),
        ("matrix empty", lambda: rm.Weights.matrix(np.ones((0, 3))), rm.SpecError),
        ("scale inf", lambda: rm.Weights.matrix(np.eye(2), scale=float("inf")), rm.SpecError),
        ("unknown activation", lambda: rm.Layer("tanh", 0.1, w, alpha=1.0), rm.SpecError),
        ("slope on relu", lambda: rm.Layer("relu", 0.1, w, alpha=1.0, slope=0.1), rm.SpecError),
        ("leaky slope 2", lambda: rm.Layer("leaky-relu", 0.1, w, alpha=1.0, slope=2.0), rm.SpecError),
        ("hardtanh threshold 0", lambda: rm.Layer("hardtanh", 0.1, w, alpha=1.0, threshold=0.0), rm.SpecError),
        ("noise < 0", lambda: rm.Layer("relu", -0.1, w, alpha=1.0), rm.SpecError),
        ("alpha missing", lambda: rm.Layer("relu", 0.1, w), rm.SpecError),
        ("alpha 0", lambda: rm.Layer("relu", 0.1, w, alpha=0.0), rm.SpecError),
        ("weights 1-D array", lambda: rm.Layer("relu", 0.1, np.ones(4), alpha=1.0), rm.SpecError),
        ("weights a string", lambda: rm.Layer("relu", 0.1, "gaussian", alpha=1.0), TypeError),
        ("no layers", lambda: rm.Chain(rm.Prior.gaussian(), []), rm.SpecError),
        ("output noiseless", lambda: rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.0, w, alpha=1.0)]), rm.SpecError),
        ("spectrum too many positive", lambda: rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.1, rm.Weights.spectrum(np.ones(10)), alpha=0.5)]), rm.SpecError),
        ("matrix vs alpha", lambda: rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.1, np.ones((3, 2)), alpha=1.0)]), rm.SpecError),
        ("tol 0", lambda: c049().solve(tol=0.0), ValueError),
        ("max_iter 0", lambda: c049().solve(max_iter=0), ValueError),
        ("spec unknown kind", lambda: rm.Chain.from_toml(C049_SPEC.replace('"gaussian", var = 1.0', '"wishart"')), rm.SpecError),
        ("spec not toml", lambda: rm.Chain.from_toml("[prior"), rm.SpecError),
        ("spec missing", lambda: rm.solve_file("/nonexistent/spec.toml"), FileNotFoundError),
        ("kde N = 1", lambda: rm.kde_upper_bound(np.ones((1, 3)), 1.0), ValueError),
        ("kde s2 < 0", lambda: rm.kde_upper_bound(np.ones((4, 3)), -1.0), ValueError),
        ("knn k >= N", lambda: rm.knn_entropy(np.random.default_rng(0).standard_normal((5, 2)), k=5), ValueError),
        ("knn duplicates", lambda: rm.knn_entropy(np.ones((5, 2)), k=1), ValueError),
        ("samples nan", lambda: rm.knn_entropy(np.array([[0.0], [np.nan], [1.0]]), k=1), ValueError),
    ]


BAD = bad_inputs()


@pytest.mark.parametrize("name,call,exc", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_the_right_exception(name, call, exc):
    # PanicException derives from BaseException: catch everything, then check the type
    try:
        call()
    except BaseException as e:  # noqa: B902
        assert type(e).__name__ != "PanicException", f"{name}: panic {e}"
        assert isinstance(e, exc), f"{name}: {type(e).__name__}: {e}"
        assert str(e), name
        return
    raise AssertionError(f"{name}: no exception")


def test_spec_error_names_the_field():
    with pytest.raises(rm.SpecError) as ei:
        rm.Chain.from_toml(C049_SPEC.replace("alpha = 0.5", "alpha = -0.5"))
    assert ei.value.field == "layers[0].alpha"
    with pytest.raises(rm.SpecError) as ei:
        rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.0, rm.Weights.gaussian(), alpha=1.0)])
    assert ei.value.field == "layers[0].noise_var"


# --- non-parametric estimators: the formulas of src/exact/nonparam.rs, written again in numpy


def log_mean_exp_rows(m):
    mx = m.max(axis=1, keepdims=True)
    return (mx[:, 0] + np.log(np.exp(m - mx).mean(axis=1))).mean()


def numpy_bounds(x, s2):
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    dim = x.shape[1]
    h0 = 0.5 * dim * np.log(2 * np.pi * np.e * s2)
    return h0 - log_mean_exp_rows(-d2 / (8 * s2)), h0 - log_mean_exp_rows(-d2 / (2 * s2))


def numpy_knn(x, k):
    from math import lgamma

    n, dim = x.shape
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    r = np.sort(d, axis=1)[:, k - 1]
    digamma = lambda m: -np.euler_gamma + sum(1.0 / j for j in range(1, m))  # noqa: E731  (integer m)
    ln_cd = 0.5 * dim * np.log(np.pi) - lgamma(1 + dim / 2) - dim * np.log(2)
    return digamma(n) - digamma(k) + ln_cd + dim * np.mean(np.log(2 * r))


def test_nonparametric_estimators_match_numpy():
    """Same formulas, independent implementation (float64 round-off only: 1e-9 absolute on values
    of order 10)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 4)) * np.array([1.0, 0.5, 2.0, 1.0]) + 3.0
    for s2 in (0.01, 0.3, 2.0):
        lo, up = rm.mixture_entropy_bounds(x, s2)
        nlo, nup = numpy_bounds(x, s2)
        assert abs(lo - nlo) < 1e-9 and abs(up - nup) < 1e-9, (s2, lo, nlo, up, nup)
        assert lo <= up
        assert rm.kde_upper_bound(x, s2) == up
        assert rm.pairwise_lower_bound(x, s2) == lo
    for k in (1, 3, 10):
        assert abs(rm.knn_entropy(x, k=k) - numpy_knn(x, k)) < 1e-9, k
    # float32 and lists are converted
    assert abs(rm.knn_entropy(x.astype(np.float32), k=3) - numpy_knn(x.astype(np.float32).astype(np.float64), 3)) < 1e-9


def test_knn_on_gaussian_samples():
    """kNN on N(0, diag(v)) samples against the closed form 1/2 ln det(2 pi e Sigma): the estimator
    is consistent; at N = 2000, d = 3, k = 5 its standard deviation is about 0.03 nats (measured
    over seeds), so 0.15 is five of them."""
    rng = np.random.default_rng(9)
    v = np.array([1.0, 0.25, 4.0])
    x = rng.standard_normal((2000, 3)) * np.sqrt(v)
    exact = 0.5 * np.log((2 * np.pi * np.e) ** 3 * v.prod())
    assert abs(rm.knn_entropy(x, k=5) - exact) < 0.15


def test_wtw_eigenvalues():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((7, 11))
    e = rm.wtw_eigenvalues(w)
    ref = np.sort(np.linalg.eigvalsh(w.T @ w))[::-1]
    assert e.shape == (11,)
    assert np.allclose(e[:7], ref[:7], rtol=1e-12, atol=1e-12) and np.all(e[7:] == 0.0)


def test_gil_is_released_during_computations():
    """While a long computation runs on another thread, this thread keeps running Python: the
    largest pause it sees stays well below the length of one call. (With the GIL held for the
    whole call, the pause would be the whole call.)"""
    x = np.random.default_rng(2).standard_normal((2500, 8))
    t0 = time.perf_counter()
    rm.knn_entropy(x, k=3)
    one = time.perf_counter() - t0
    assert one > 0.02, f"the call is too short to measure ({one:.4f} s)"
    done = threading.Event()

    def work():
        for _ in range(3):
            rm.knn_entropy(x, k=3)
        done.set()

    th = threading.Thread(target=work)
    th.start()
    last = time.perf_counter()
    max_gap = 0.0
    while not done.is_set():
        now = time.perf_counter()
        max_gap = max(max_gap, now - last)
        last = now
    th.join()
    assert max_gap < 0.5 * one, f"largest pause {max_gap:.3f} s for calls of {one:.3f} s"


def test_stubs_cover_the_module():
    pkg = pathlib.Path(rm.__file__).parent
    assert (pkg / "py.typed").is_file()
    stub = (pkg / "__init__.pyi").read_text()
    for name in rm.__all__:
        if name == "__version__":
            continue
        assert f"class {name}" in stub or f"def {name}" in stub or f"{name} = " in stub, name
