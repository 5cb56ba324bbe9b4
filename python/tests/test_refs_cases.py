"""Every row of ../shared/refs/cases.csv through the Python API (chains built from Prior, Layer and
Weights objects, empirical spectra passed as numpy arrays), with the tolerances of
tests/refs_cases.rs: entropy and MI within the row's `tolerance`; the MMSE (an order parameter,
not stationary, carrying the solver tolerance) within max(tolerance, 1e-6) * (1 + |mmse|)."""

import csv

import numpy as np
import pytest

import replica_mi as rm
from conftest import refs_dir

ROWS = list(csv.DictReader(open(refs_dir() / "cases.csv", newline="")))

ACTIVATIONS = {"linear": "linear", "relu": "relu", "hardtanh": "hardtanh", "probit": "sign"}


def kv(s):
    return {k: float(v) for k, v in (p.split("=") for p in s.split(";") if p)}


def prior_of(kind, params):
    p = kv(params)
    if kind == "normal":
        return rm.Prior.gaussian(var=p["var"], mean=p["mean"])
    if kind == "bimodal":
        return rm.Prior.binary(p["p"])
    if kind == "spikeslab":
        return rm.Prior.gauss_bernoulli(p["p"], var=p["var"], mean=p["mean"])
    raise AssertionError(f"unknown prior {kind}")


def spectrum(name):
    return np.loadtxt(refs_dir() / "spectra" / f"{name}.csv", skiprows=1, ndmin=1)


def chain_of(row):
    split = lambda k: row[k].split(";")  # noqa: E731
    layers = []
    for alpha, act, noise, ens, s in zip(
        split("alphas"), split("activations"), split("noise_vars"), split("ensembles"), split("weight_vars")
    ):
        if ens == "gaussian":
            w = rm.Weights.gaussian(float(s))
        else:
            w = rm.Weights.spectrum(spectrum(ens.removeprefix("empirical:")), scale=float(s))
        layers.append(rm.Layer(ACTIVATIONS[act], float(noise), w, alpha=float(alpha)))
    return rm.Chain(prior_of(row["prior"], row["prior_params"]), layers)


def opt(row, k):
    v = row.get(k, "").strip()
    return float(v) if v else None


# tests/refs_cases.rs lists c105 as a known reference defect and does not compare it with the
# row; the row has since been recomputed (refs README) and its entropy and MI agree here within
# the row's tolerance, but its MMSE differs by 2.7e-5 (limit 2.35e-5). That comparison is kept
# visible as a strict expected failure below (it fails the suite the day it passes, so that this
# list is updated), until the row is settled in the Rust test as well.
KNOWN_MMSE_GAP = {"c105"}


def test_table_is_complete():
    assert len(ROWS) > 50, f"cases.csv looks truncated: {len(ROWS)} rows"


@pytest.mark.parametrize("row", ROWS, ids=[r["case_id"] for r in ROWS])
def test_reference_case(row):
    check(row, mmse=row["case_id"] not in KNOWN_MMSE_GAP)


@pytest.mark.xfail(strict=True, reason="c105: MMSE 2.7e-5 from the recomputed row (limit 2.35e-5); see KNOWN_MMSE_GAP")
@pytest.mark.parametrize("case_id", sorted(KNOWN_MMSE_GAP))
def test_known_mmse_gap(case_id):
    check(next(r for r in ROWS if r["case_id"] == case_id), mmse=True)


def check(row, mmse):
    tol = float(row["tolerance"])
    est = rm.solve(chain_of(row))
    params = {k: row[k] for k in ("group", "alphas", "prior", "prior_params", "activations", "noise_vars", "ensembles", "weight_vars")}
    h = opt(row, "entropy")
    assert abs(est.entropy - h) <= tol, f"{row['case_id']} {params}: H {est.entropy} vs {h}"
    mi = opt(row, "mutual_information")
    if mi is not None:
        assert est.mutual_information is not None, f"{row['case_id']}: MI undefined"
        assert abs(est.mutual_information - mi) <= tol, f"{row['case_id']} {params}: I {est.mutual_information} vs {mi}"
    mm = opt(row, "mmse_x")
    if mm is not None and mmse:
        # groups 1L_sweep / 1L_linear_alpha were computed with the weight scale moved into the
        # prior: their MMSE is s times ours (see tests/refs_cases.rs)
        units = 1.0
        if row["group"] in ("1L_sweep", "1L_linear_alpha") and not row["source"].startswith("independent"):
            units = float(row["weight_vars"])
        d = est.mmse * units - mm
        assert abs(d) <= max(tol, 1e-6) * (1 + abs(mm)), f"{row['case_id']} {params}: mmse {est.mmse * units} vs {mm}"
