"""One chain, three descriptions: a spec file (the command line's format), Python objects reading
the same files, and numpy arrays. All go through the core's chain builder, so the notes (a
matrix read as its transpose, the spectrum-only assumption) and the estimates are identical, bit
for bit; the command line, another build of the same core, agrees to round-off."""

import json
import subprocess

import numpy as np
import pytest

import replica_mi as rm

SPEC = """[prior]
kind = "gauss-bernoulli"
p = 0.4
var = 1.5
[[layers]]
activation = "relu"
noise_var = 0
weights = {{ kind = "matrix", file = "w1.npy" }}
[[layers]]
activation = "hardtanh"
threshold = 0.8
noise_var = 1e-3
weights = {{ kind = "matrix", file = "w2t.npy", scale = 0.5 }}
[[layers]]
alpha = 0.5
activation = "leaky-relu"
slope = 0.2
noise_var = 0
weights = {{ kind = "spectrum", file = "s.txt" }}
[[layers]]
alpha = 1.5
activation = "linear"
noise_var = 0.01
weights = {{ kind = "gaussian", var = 2.0 }}
"""

EIGS = [2.0, 0.5, 0.0, 0.0]


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(11)
    w1 = rng.standard_normal((30, 20)) / np.sqrt(20)
    w2 = rng.standard_normal((10, 30)) / np.sqrt(30)
    np.save(tmp_path / "w1.npy", w1)
    # the second layer's W (10 x 30) stored as its transpose, as some frameworks keep in x out
    np.save(tmp_path / "w2t.npy", np.ascontiguousarray(w2.T))
    (tmp_path / "s.txt").write_text("eigenvalue\n" + "\n".join(map(str, EIGS)) + "\n")
    (tmp_path / "spec.toml").write_text(SPEC.format())
    return tmp_path, w1, w2


def python_layers(w1_weights, w2_weights):
    return [
        rm.Layer("relu", 0.0, w1_weights),
        rm.Layer("hardtanh", 1e-3, w2_weights, threshold=0.8),
        rm.Layer("leaky-relu", 0.0, rm.Weights.spectrum(EIGS), alpha=0.5, slope=0.2),
        rm.Layer("linear", 0.01, rm.Weights.gaussian(2.0), alpha=1.5),
    ]


def same_bits(a, b):
    for name in ("entropy", "mutual_information", "mi_last_layer", "mmse"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:  # I(X;T) is defined for discrete priors only
            assert y is None, (name, y)
            continue
        assert np.float64(x).tobytes() == np.float64(y).tobytes(), (name, x, y)


def test_spec_and_python_objects_agree_bit_for_bit(files, cli):
    d, w1, w2 = files
    prior = rm.Prior.gauss_bernoulli(0.4, var=1.5)
    with pytest.warns(UserWarning, match="transpose"):
        from_spec = rm.Chain.from_file(d / "spec.toml")
    with pytest.warns(UserWarning, match="transpose"):
        from_objects = rm.Chain(
            prior,
            python_layers(rm.Weights.file(d / "w1.npy"), rm.Weights.file(d / "w2t.npy", scale=0.5)),
        )
    print(from_spec.notes)
    assert len(from_spec.notes) == 2
    assert from_spec.notes[0].startswith("layers[1].weights: the stored 30 x 10 matrix from ")
    assert "w2t.npy is read as its transpose W (10 x 30" in from_spec.notes[0]
    assert from_objects.notes == from_spec.notes
    a, b = from_spec.solve(), from_objects.solve()
    same_bits(a, b)

    # numpy arrays: the same rules (the transposed array is found and noted, with no file to name)
    with pytest.warns(UserWarning, match="transpose"):
        from_arrays = rm.Chain(
            prior, python_layers(w1, rm.Weights.matrix(np.ascontiguousarray(w2.T), scale=0.5))
        )
    assert from_arrays.notes[0] == from_spec.notes[0].replace(f" from {d / 'w2t.npy'}", "")
    assert from_arrays.notes[1] == from_spec.notes[1]
    same_bits(a, from_arrays.solve())

    # the command line: the same notes on stderr; another build of the same code, so the values
    # agree to f64 round-off only (1e-12 relative is far above it and far below any real change)
    p = subprocess.run([cli, "entropy", str(d / "spec.toml"), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["notes"] == from_spec.notes
    assert abs(report["entropy"] - a.entropy) <= 1e-12 * abs(a.entropy)


def test_a_bias_beside_the_weight_is_noted_on_every_path(tmp_path):
    """A PyTorch-style file with fc1.weight and fc1.bias: the spec file and Weights.file give the
    same note that the bias is ignored (the formula's layers have none); pickling keeps it."""
    import pickle

    from safetensors.numpy import save_file

    rng = np.random.default_rng(5)
    w = rng.standard_normal((8, 12)) / np.sqrt(12)
    save_file({"fc1.weight": w, "fc1.bias": np.zeros(8)}, str(tmp_path / "net.safetensors"))
    (tmp_path / "spec.toml").write_text(
        '[prior]\nkind = "gaussian"\nvar = 1.0\n[[layers]]\nactivation = "relu"\nnoise_var = 0.01\n'
        'weights = { kind = "matrix", file = "net.safetensors", tensor = "fc1.weight" }\n'
    )
    with pytest.warns(UserWarning, match="biases are ignored"):
        from_spec = rm.Chain.from_file(tmp_path / "spec.toml", assume_invariant=True)
    weights = rm.Weights.file(tmp_path / "net.safetensors", tensor="fc1.weight")
    with pytest.warns(UserWarning, match="biases are ignored"):
        from_objects = rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.01, weights)], assume_invariant=True)
    print(from_spec.notes)
    assert len(from_spec.notes) == 1 and 'also holds "fc1.bias"' in from_spec.notes[0]
    assert from_objects.notes == from_spec.notes
    with pytest.warns(UserWarning, match="biases are ignored"):
        again = rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.01, pickle.loads(pickle.dumps(weights)))], assume_invariant=True)
    assert again.notes == from_spec.notes
    # the same matrix as an array has no file, hence no bias and no note
    plain = rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 0.01, w)], assume_invariant=True)
    assert plain.notes == []
