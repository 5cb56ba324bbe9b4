"""The assumptions shown at run time: a weight matrix enters through its spectrum alone (its
singular vectors treated as Haar-random), said once per chain in `chain.notes` and by one
UserWarning, silenced by assume_invariant=True; ensembles and spectra carry no such note. Also:
replica_mi imports without PyTorch, and replica_mi.torch says what it needs."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import replica_mi as rm

NOISE = 1e-3


def mats():
    rng = np.random.default_rng(3)
    return rng.standard_normal((30, 20)) / np.sqrt(20), rng.standard_normal((10, 30)) / np.sqrt(30)


def record(build):
    """(result, list of the UserWarnings raised while building)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build()
    return out, [w for w in caught if issubclass(w.category, UserWarning)]


def test_matrix_chain_has_one_note_and_one_warning():
    w1, w2 = mats()
    layers = [rm.Layer("relu", 0.0, w1), rm.Layer("linear", NOISE, rm.Weights.matrix(w2))]
    chain, caught = record(lambda: rm.Chain(rm.Prior.gaussian(), layers))
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert len(chain.notes) == 1 and str(caught[0].message) == chain.notes[0]
    note = chain.notes[0]
    assert note.startswith("layers[0].weights, layers[1].weights: the weight matrices"), note
    assert "Haar-random" in note and "approximation" in note, note
    # quiet on request, same numbers
    quiet, caught = record(lambda: rm.Chain(rm.Prior.gaussian(), layers, assume_invariant=True))
    assert caught == [] and quiet.notes == []
    assert quiet.solve().entropy == chain.solve().entropy


def test_only_matrix_layers_are_named():
    layers = [
        rm.Layer("relu", 0.0, rm.Weights.gaussian(1.0), alpha=1.5),
        rm.Layer("linear", 0.0, rm.Weights.orthogonal(), alpha=1.0),
        rm.Layer("linear", 0.0, rm.Weights.spectrum(np.r_[np.linspace(0.1, 2.0, 20), np.zeros(10)]), alpha=2 / 3),
        rm.Layer("linear", NOISE, rm.Weights.matrix(np.ones((5, 20)) + np.eye(5, 20)), alpha=0.25),
    ]
    chain, caught = record(lambda: rm.Chain(rm.Prior.gaussian(), layers))
    assert len(caught) == 1 and len(chain.notes) == 1, chain.notes
    assert chain.notes[0].startswith("layers[3].weights: the weight matrix is"), chain.notes[0]
    # no matrix: no note, no warning
    last = rm.Layer("linear", NOISE, rm.Weights.spectrum(np.r_[np.linspace(0.1, 2.0, 20), np.zeros(10)]), alpha=2 / 3)
    chain, caught = record(lambda: rm.Chain(rm.Prior.gaussian(), layers[:2] + [last]))
    assert caught == [] and chain.notes == []


def test_extra_notes_are_recorded_and_warned():
    chain, caught = record(
        lambda: rm.Chain(
            rm.Prior.gaussian(),
            [rm.Layer("linear", NOISE, rm.Weights.gaussian(1.0), alpha=1.0)],
            notes=["fc1.bias: biases are ignored"],
        )
    )
    assert chain.notes == ["fc1.bias: biases are ignored"]
    assert [str(w.message) for w in caught] == chain.notes


def test_spec_files_and_solve_file(tmp_path):
    w1, w2 = mats()
    np.save(tmp_path / "w1.npy", w1)
    np.save(tmp_path / "w2.npy", w2)
    text = """[prior]
kind = "gaussian"
var = 1.0
[[layers]]
activation = "relu"
noise_var = 0.0
weights = { kind = "matrix", file = "w1.npy" }
[[layers]]
activation = "linear"
noise_var = 0.001
weights = { kind = "matrix", file = "w2.npy" }
"""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    chain, caught = record(lambda: rm.Chain.from_file(spec))
    assert len(caught) == 1 and len(chain.notes) == 1 and "Haar-random" in chain.notes[0]
    chain, caught = record(lambda: rm.Chain.from_file(spec, assume_invariant=True))
    assert caught == [] and chain.notes == []
    chain, caught = record(lambda: rm.Chain.from_toml(text, tmp_path))
    assert len(caught) == 1 and len(chain.notes) == 1
    chain, caught = record(lambda: rm.Chain.from_toml(text, tmp_path, assume_invariant=True))
    assert caught == [] and chain.notes == []
    est, caught = record(lambda: rm.solve_file(spec))
    assert len(caught) == 1
    quiet, caught = record(lambda: rm.solve_file(spec, assume_invariant=True))
    assert caught == [] and quiet.entropy == est.entropy


def test_import_without_torch():
    """With torch made unimportable, `import replica_mi` works and does not import torch, and
    `import replica_mi.torch` raises an ImportError that says what is missing."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import replica_mi\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None], 'torch imported'\n"
        "try:\n"
        "    import replica_mi.torch\n"
        "except ImportError as e:\n"
        "    assert 'needs PyTorch' in str(e), e\n"
        "    print('ok')\n"
        "else:\n"
        "    raise SystemExit('replica_mi.torch imported without torch')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
