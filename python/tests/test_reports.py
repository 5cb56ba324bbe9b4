"""The solver's reports from Python: NotConvergedError.attempts, start_at, candidates, verbose;
numeric arguments of Prior, Weights and Layer checked by name."""

import json
import subprocess

import numpy as np
import pytest

import replica_mi as rm


def two_layer():
    return rm.Chain(
        rm.Prior.gaussian(),
        [
            rm.Layer("relu", 0.0, rm.Weights.gaussian(), alpha=1.0),
            rm.Layer("hardtanh", 1e-3, rm.Weights.orthogonal(), alpha=0.8),
        ],
    )


def relu_chain():
    return rm.Chain(
        rm.Prior.gaussian(),
        [
            rm.Layer("relu", 0.0, rm.Weights.gaussian(), alpha=1.0),
            rm.Layer("relu", 1e-3, rm.Weights.gaussian(), alpha=0.8),
        ],
    )


def sign_chain():
    return rm.Chain(
        rm.Prior.binary(0.5),
        [
            rm.Layer("sign", 0.0, rm.Weights.gaussian(), alpha=1.5),
            rm.Layer("relu", 1e-2, rm.Weights.gaussian(), alpha=0.8),
        ],
    )


# potentials of one stationary point agree to the solver's convergence (order parameters to
# 1e-9, the potential to second order) plus round-off; distinct points differ by > 1e-3
SAME = 1e-8


def test_not_converged_attempts_are_typed_and_reasons_stay():
    with pytest.raises(rm.NotConvergedError) as ei:
        relu_chain().solve(max_iter=1, scheme="fixed-point")
    e = ei.value
    assert len(e.reasons) == 1 and "did not converge" in e.reasons[0]
    assert len(e.attempts) == 3, e.attempts
    for k, a in enumerate(e.attempts):
        assert isinstance(a, rm.FailedAttempt)
        assert (a.layer, a.scheme, a.start, a.start_kind) == (2, "fixed-point", k, "index")
        assert (a.outcome, a.sweeps) == ("exhausted", 1)
        assert a.bound is None and a.value is None and a.limit is None
        assert a.residual > 0
        # each attempt's line is in the message, as before
        assert a.message.startswith(f"fixed-point start {k}: no convergence in 1 sweeps")
        assert a.message in e.reasons[0]
    # all layers: the attempts of every failed truncation, each with its layer
    with pytest.raises(rm.NotConvergedError) as ei:
        relu_chain().solve(max_iter=1, scheme="fixed-point", all_layers=True)
    assert {a.layer for a in ei.value.attempts} == {1, 2}


def test_start_at_the_fixed_point_converges_at_once_to_the_same_value():
    for chain in (two_layer(), relu_chain(), sign_chain()):
        est = chain.solve()
        again = chain.solve(start_at=est, return_candidates=True)
        # (the fixed-point scheme has no theta root on two_layer's orthogonal layer: there the
        # ML-VAMP start from the same point converges)
        given = [c for c in again.candidates if c.start_kind == "given" and c.converged]
        assert given, again.candidates
        assert given[0].iterations <= 2, given[0]
        assert abs(again.entropy - est.entropy) <= SAME * abs(est.entropy)
        # a WarmStart and a list of variances are starting points too
        assert abs(chain.solve(start_at=est.warm_start).entropy - est.entropy) <= SAME * abs(est.entropy)
        v = chain.solve(start_at=[0.5, 0.4], return_candidates=True)
        assert v.candidates[0].start_kind == "given"
        assert abs(v.entropy - est.entropy) <= SAME * abs(est.entropy)


def test_candidates_include_the_selected_one_with_the_estimate_s_value():
    est = sign_chain().solve(return_candidates=True)
    assert all(isinstance(c, rm.Candidate) for c in est.candidates)
    selected = [c for c in est.candidates if c.selected]
    assert len(selected) == 1
    assert selected[0].entropy == est.entropy and selected[0].scheme == est.scheme
    assert {c.scheme for c in est.candidates} == {"fixed-point", "ml-vamp"}
    assert sign_chain().solve().candidates is None
    ests = two_layer().solve(all_layers=True, return_candidates=True)
    assert all(sum(c.selected for c in e.candidates) == 1 for e in ests)


def test_verbose_trace_goes_to_stderr_and_ends_with_the_selected_start(capfd):
    est = sign_chain().solve(verbose=True, return_candidates=True)
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == len(est.candidates) + 1, err
    assert all(line.startswith("replica_mi: layer 2: ") for line in err), err
    assert err[-1].startswith("replica_mi: layer 2: selected: ")
    sel = next(c for c in est.candidates if c.selected)
    assert err[-1].endswith(sel.message), (err[-1], sel.message)
    sign_chain().solve()
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    "start, exc, field, text",
    [
        ([0.5, float("nan")], rm.SpecError, "start_at.v[1]", "invalid start_at.v[1] = NaN"),
        ([-1.0, 0.5], rm.SpecError, "start_at.v[0]", "must be finite and > 0"),
        ([0.5], rm.SpecError, "start_at", "the chain has 2 layers"),
        ([0.5, 1e6], rm.SpecError, "start_at.v[1]", "at most the variance"),
        ("0.5", TypeError, None, "start_at: expected an Estimate, a WarmStart or a sequence"),
    ],
)
def test_a_bad_start_at_is_refused_naming_the_field(start, exc, field, text):
    with pytest.raises(exc, match=None) as ei:
        two_layer().solve(start_at=start)
    assert text in str(ei.value), str(ei.value)
    if field is not None:
        assert ei.value.field == field
    with pytest.raises(ValueError, match="start_at: .*all_layers"):
        two_layer().solve(start_at=[0.5, 0.5], all_layers=True)


def test_the_command_line_start_at_candidates_and_verbose(tmp_path, cli):
    from conftest import REPO
    spec = REPO / "examples" / "specs" / "relu_1layer.toml"
    p = subprocess.run([cli, "entropy", str(spec), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    first = json.loads(p.stdout)
    (tmp_path / "first.json").write_text(p.stdout)
    p = subprocess.run(
        [cli, "entropy", str(spec), "--json", "--candidates", "--verbose",
         "--start-at", str(tmp_path / "first.json")],
        capture_output=True, text=True,
    )
    assert p.returncode == 0, p.stderr
    rec = json.loads(p.stdout)
    assert abs(rec["entropy"] - first["entropy"]) <= SAME * abs(first["entropy"])
    assert rec["candidates"][0]["start_kind"] == "given"
    assert sum(c["selected"] for c in rec["candidates"]) == 1
    lines = [ln for ln in p.stderr.splitlines() if not ln.startswith("replica-mi: note:")]
    assert lines and lines[-1].startswith("replica-mi: layer 1: selected: "), p.stderr
    # text output lists the candidates, the selected one starred
    p = subprocess.run([cli, "entropy", str(spec), "--candidates"], capture_output=True, text=True)
    assert p.returncode == 0 and "candidates of layer 1" in p.stdout and "\n  * " in p.stdout
    # a bad start: exit 2 naming the field
    p = subprocess.run([cli, "entropy", str(spec), "--start-at", "0.5,nan"], capture_output=True, text=True)
    assert p.returncode == 2 and "start_at.v[1]" in p.stderr, p.stderr


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: rm.Prior.gaussian(var="x"), "var"),
        (lambda: rm.Prior.gaussian(mean="x"), "mean"),
        (lambda: rm.Prior.gaussian(var=True), "var"),
        (lambda: rm.Prior.binary(p="x"), "p"),
        (lambda: rm.Prior.gauss_bernoulli("x"), "p"),
        (lambda: rm.Prior.gauss_bernoulli(0.5, var=[1.0]), "var"),
        (lambda: rm.Weights.gaussian(var="x"), "var"),
        (lambda: rm.Weights.spectrum([1.0, 2.0], scale="x"), "scale"),
        (lambda: rm.Weights.matrix(np.eye(3), scale="x"), "scale"),
        (lambda: rm.Layer("relu", "x", rm.Weights.gaussian(), alpha=1.0), "noise_var"),
        (lambda: rm.Layer("relu", 0.1, rm.Weights.gaussian(), alpha="x"), "alpha"),
        (lambda: rm.Layer("leaky-relu", 0.1, rm.Weights.gaussian(), alpha=1.0, slope="x"), "slope"),
        (lambda: rm.Layer("hardtanh", 0.1, rm.Weights.gaussian(), alpha=1.0, threshold="x"), "threshold"),
    ],
)
def test_numeric_arguments_of_the_builders_name_themselves(make, name):
    with pytest.raises(TypeError, match=rf"^{name}: expected a real number, got "):
        make()


def test_builders_keep_their_defaults_and_numeric_types():
    assert repr(rm.Prior.gaussian()) == "Prior.gaussian(var=1, mean=0)"
    assert repr(rm.Prior.binary()) == "Prior.binary(p=0.5)"
    assert rm.Prior.gaussian(var=np.float32(2.0), mean=1) is not None
    assert rm.Layer("relu", np.float64(0.1), rm.Weights.gaussian(2), alpha=1).alpha == 1.0
