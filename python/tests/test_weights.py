"""Weight files written by numpy (npy, npz, npz compressed) and by the safetensors package, read
back by Python (Weights.file, Chain.from_file, solve_file) and by the command line, with the same
result as the matrix passed directly; bad files raise SpecError naming the field, the file and
the rule (and make the command line exit with status 2)."""

import json
import subprocess

import numpy as np
import pytest
from safetensors.numpy import save_file

import replica_mi as rm
from conftest import gaussian_chain_entropy

N_IN, N_OUT, NOISE = 120, 80, 0.01


@pytest.fixture(scope="module")
def mats():
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((N_OUT, N_IN)) / np.sqrt(N_IN)
    w2 = rng.standard_normal((60, N_OUT)) / np.sqrt(N_OUT)
    return w1, w2


def spec_text(weights_lines, noise=NOISE, activation="linear"):
    layers = "".join(
        f'[[layers]]\nactivation = "{activation}"\nnoise_var = {noise if i == len(weights_lines) - 1 else 0.0}\n{w}\n'
        for i, w in enumerate(weights_lines)
    )
    return f'[prior]\nkind = "gaussian"\nvar = 1.0\n{layers}'


def cli_json(cli, spec_path, *extra):
    p = subprocess.run([cli, "entropy", str(spec_path), "--json", *extra], capture_output=True, text=True)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr}"
    return json.loads(p.stdout), p.stderr


# (file name, writer, weights key) for the first layer's matrix w (float64 unless said)
def write_npy(d, w):
    np.save(d / "w.npy", w)
    return '{ kind = "matrix", file = "w.npy" }', w


def write_npy_f32_fortran(d, w):
    w32 = np.asfortranarray(w.astype(np.float32))
    np.save(d / "wf.npy", w32)
    return '{ kind = "matrix", file = "wf.npy" }', w32.astype(np.float64)


def write_npz(d, w):
    np.savez(d / "w.npz", fc1=w, other=np.ones((3, 3)))
    return '{ kind = "matrix", file = "w.npz", tensor = "fc1" }', w


def write_npz_compressed(d, w):
    np.savez_compressed(d / "wc.npz", fc1=w)
    return '{ kind = "matrix", file = "wc.npz" }', w  # one array: tensor may be omitted


def write_safetensors(d, w):
    save_file({"fc1.weight": np.ascontiguousarray(w), "fc1.bias": np.zeros(N_OUT)}, str(d / "w.safetensors"))
    return '{ kind = "matrix", file = "w.safetensors", tensor = "fc1.weight" }', w


def write_safetensors_f32(d, w):
    w32 = w.astype(np.float32)
    save_file({"fc1.weight": w32}, str(d / "w32.safetensors"))
    return '{ kind = "matrix", file = "w32.safetensors", tensor = "fc1.weight" }', w32.astype(np.float64)


WRITERS = [write_npy, write_npy_f32_fortran, write_npz, write_npz_compressed, write_safetensors, write_safetensors_f32]


@pytest.mark.parametrize("writer", WRITERS, ids=[w.__name__ for w in WRITERS])
def test_file_read_back_by_python_and_cli(tmp_path, mats, writer, cli):
    w1, _ = mats
    key, w_as_read = writer(tmp_path, w1)
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text([f"weights = {key}"]))

    direct = rm.Chain(rm.Prior.gaussian(), [rm.Layer("linear", NOISE, w_as_read)]).solve()
    from_file = rm.solve_file(spec)
    chain = rm.Chain.from_file(spec)
    assert chain.alphas == [N_OUT / N_IN]
    report, _ = cli_json(cli, spec)
    # the same f64 matrix through the same code in the same extension: identical numbers
    for name, got in [("solve_file", from_file.entropy), ("Chain.from_file", chain.solve().entropy)]:
        assert got == direct.entropy, (writer.__name__, name, got, direct.entropy)
    # the command line is another build of the same code (its faer, which takes the SVD, may be
    # compiled with other features): equal up to f64 round-off of the singular values, 1e-12 on
    # values of order 1 (JSON itself round-trips f64 exactly)
    assert abs(report["entropy"] - direct.entropy) < 1e-12, (writer.__name__, report["entropy"], direct.entropy)
    assert abs(report["mutual_information"] - from_file.mutual_information) < 1e-12
    assert abs(report["mmse"] - from_file.mmse) < 1e-12
    assert report["scheme"] == from_file.scheme
    # and the exact value (one linear layer: exact at any size, 1e-8 as tests/exact.rs)
    exact = gaussian_chain_entropy(1.0, [w_as_read], [NOISE])
    assert abs(direct.entropy - exact) < 1e-8, (writer.__name__, direct.entropy, exact)

    # Weights.file reads the same matrix
    t = {"write_npz": "fc1", "write_safetensors": "fc1.weight", "write_safetensors_f32": "fc1.weight"}.get(writer.__name__)
    fname = key.split('file = "')[1].split('"')[0]
    wf = rm.Weights.file(tmp_path / fname, tensor=t)
    assert wf.kind == "matrix" and wf.shape == (N_OUT, N_IN)
    assert rm.Chain(rm.Prior.gaussian(), [rm.Layer("linear", NOISE, wf)]).solve().entropy == direct.entropy


def test_two_layer_files_and_transpose(tmp_path, mats, cli):
    """Two matrices in one safetensors file; the second stored transposed (as some frameworks
    keep in x out): accepted because only the transpose fits the first layer's width, with a
    UserWarning in Python and a note on the command line's stderr; same result both ways and as
    passing the matrices directly."""
    w1, w2 = mats
    save_file({"a": w1, "b": np.ascontiguousarray(w2.T)}, str(tmp_path / "net.safetensors"))
    spec = tmp_path / "spec.toml"
    spec.write_text(
        spec_text(
            [
                'weights = { kind = "matrix", file = "net.safetensors", tensor = "a" }',
                'weights = { kind = "matrix", file = "net.safetensors", tensor = "b" }',
            ]
        )
    )
    with pytest.warns(UserWarning, match="transpose"):
        chain = rm.Chain.from_file(spec)
    # the transposition, then the note that the matrices stand for themselves by their spectrum
    assert len(chain.notes) == 2 and "tensor \"b\"" in chain.notes[0], chain.notes
    assert "Haar-random" in chain.notes[1], chain.notes
    est = chain.solve()
    direct = rm.Chain(rm.Prior.gaussian(), [rm.Layer("linear", 0.0, w1), rm.Layer("linear", NOISE, w2)]).solve()
    assert est.entropy == direct.entropy
    report, stderr = cli_json(cli, spec)
    assert abs(report["entropy"] - est.entropy) < 1e-12  # another build: f64 round-off, see above
    assert "transpose" in stderr, stderr
    # Python objects: the same rule
    with pytest.warns(UserWarning, match="transpose"):
        c2 = rm.Chain(rm.Prior.gaussian(), [rm.Layer("linear", 0.0, w1), rm.Layer("linear", NOISE, w2.T)])
    assert c2.solve().entropy == direct.entropy


BAD = [
    # (name, file writer -> weights table, field, fragments of the message)
    ("missing tensor npz", lambda d: (np.savez(d / "a.npz", x=np.eye(3)), '{ kind = "matrix", file = "a.npz", tensor = "fc9" }')[1], "layers[0].weights.file", ["a.npz", "no tensor \"fc9\"", "\"x\""]),
    ("missing tensor safetensors", lambda d: (save_file({"x": np.eye(3)}, str(d / "a.safetensors")), '{ kind = "matrix", file = "a.safetensors", tensor = "y" }')[1], "layers[0].weights.file", ["a.safetensors", "no tensor \"y\""]),
    ("tensor needed", lambda d: (np.savez(d / "b.npz", x=np.eye(3), y=np.eye(3)), '{ kind = "matrix", file = "b.npz" }')[1], "layers[0].weights.file", ["b.npz", "holds 2 tensors"]),
    ("rank 1", lambda d: (np.save(d / "v.npy", np.ones(5)), '{ kind = "matrix", file = "v.npy" }')[1], "layers[0].weights.file", ["v.npy", "rank 1"]),
    ("rank 3", lambda d: (np.save(d / "t.npy", np.ones((2, 3, 4))), '{ kind = "matrix", file = "t.npy" }')[1], "layers[0].weights.file", ["t.npy", "rank 3"]),
    ("NaN", lambda d: (np.save(d / "n.npy", np.array([[1.0, np.nan], [0.0, 1.0]])), '{ kind = "matrix", file = "n.npy" }')[1], "layers[0].weights.file", ["n.npy", "[0, 1]", "not finite"]),
    ("inf", lambda d: (np.save(d / "i.npy", np.array([[1.0, 0.0], [np.inf, 1.0]], dtype=np.float32)), '{ kind = "matrix", file = "i.npy" }')[1], "layers[0].weights.file", ["i.npy", "[1, 0]", "not finite"]),
    ("integer dtype", lambda d: (np.save(d / "k.npy", np.ones((2, 2), dtype=np.int64)), '{ kind = "matrix", file = "k.npy" }')[1], "layers[0].weights.file", ["k.npy", "<i8"]),
    ("shape vs alpha", lambda d: (np.save(d / "s.npy", np.ones((30, 20))), 'alpha = 1.0\nweights = { kind = "matrix", file = "s.npy" }')[1], "layers[0].weights.file", ["s.npy", "contradicts alpha = 1"]),
]


@pytest.mark.parametrize("name,make,field,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_weight_files(tmp_path, name, make, field, fragments, cli):
    w = make(tmp_path)
    line = w if w.startswith("alpha") else f"weights = {w}"
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text([line]))
    with pytest.raises(rm.SpecError) as ei:
        rm.solve_file(spec)
    msg = str(ei.value)
    assert ei.value.field == field, msg
    for f in fragments:
        assert f in msg, (name, f, msg)
    assert isinstance(ei.value, ValueError)
    p = subprocess.run([cli, "entropy", str(spec)], capture_output=True, text=True)
    assert p.returncode == 2, (name, p.returncode, p.stderr)
    assert field in p.stderr and fragments[0] in p.stderr, p.stderr


def test_shape_vs_previous_layer(tmp_path, mats):
    w1, _ = mats
    np.save(tmp_path / "w1.npy", w1)
    np.save(tmp_path / "bad.npy", np.ones((10, 33)))
    spec = tmp_path / "spec.toml"
    spec.write_text(
        spec_text(['weights = { kind = "matrix", file = "w1.npy" }', 'weights = { kind = "matrix", file = "bad.npy" }'])
    )
    with pytest.raises(rm.SpecError, match=r"bad\.npy.*previous layer.*n_\(l-1\) = 80") as ei:
        rm.Chain.from_file(spec)
    assert ei.value.field == "layers[1].weights.file"
    with pytest.raises(rm.SpecError, match="previous layer") as ei:
        rm.Chain(rm.Prior.gaussian(), [rm.Layer("linear", 0.0, w1), rm.Layer("linear", 0.1, np.ones((10, 33)))])
    assert ei.value.field == "layers[1].weights"


def test_weights_file_errors_in_python(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.eye(3))
    with pytest.raises(rm.SpecError, match="no tensor \"y\""):
        rm.Weights.file(tmp_path / "a.npz", tensor="y")
    with pytest.raises(rm.SpecError, match="unknown file type"):
        rm.Weights.file(tmp_path / "a.pt")
