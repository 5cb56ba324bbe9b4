"""Rough edges found by trying the package as a new user: each one's fix."""

import subprocess
import sys

import numpy as np
import pytest

import replica_mi as rm


def chain():
    return rm.Chain(rm.Prior.gaussian(), [rm.Layer("relu", 1e-3, rm.Weights.gaussian(), alpha=1.0)])


def test_missing_weight_file_is_file_not_found_like_a_missing_spec(tmp_path, cli):
    spec = tmp_path / "spec.toml"
    spec.write_text('[prior]\nkind = "gaussian"\nvar = 1.0\n\n[[layers]]\nactivation = "relu"\nnoise_var = 0.01\nweights = { kind = "matrix", file = "nothing.npy" }\n')
    with pytest.raises(FileNotFoundError) as ei:
        rm.solve_file(spec)
    assert ei.value.field == "layers[0].weights.file" and "nothing.npy" in str(ei.value)
    assert ei.value.filename.endswith("nothing.npy")
    with pytest.raises(FileNotFoundError) as ei:
        rm.solve_file(tmp_path / "no_spec.toml")
    assert ei.value.field is None
    with pytest.raises(FileNotFoundError) as ei:
        rm.Weights.file(tmp_path / "nothing.npy")
    assert ei.value.field == "weights.file"
    # the command line: an input error (exit 2) naming the file, as before
    p = subprocess.run([cli, "entropy", str(spec)], capture_output=True, text=True)
    assert p.returncode == 2 and "nothing.npy" in p.stderr


def test_solve_file_on_a_weight_file_or_binary_says_so(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((3, 3)))
    with pytest.raises(rm.SpecError, match=r"is a weight file \(Npy\), not a spec: read it with Weights.file"):
        rm.solve_file(tmp_path / "w.npy")
    (tmp_path / "w.bin").write_bytes(b"\x93NUMPY\xff\xfe")
    with pytest.raises(rm.SpecError, match="is not UTF-8 text: a spec is a TOML file"):
        rm.solve_file(tmp_path / "w.bin")


@pytest.mark.parametrize("dtype,words", [(complex, "complex"), (bool, "boolean"), (np.int64, "integer matrix"), (object, "not an array of numbers")])
def test_complex_bool_int_object_matrices_refused(dtype, words):
    w = np.ones((4, 3), dtype=dtype)
    for make in [lambda: rm.Layer("relu", 0.0, w), lambda: rm.Weights.matrix(w), lambda: rm.wtw_eigenvalues(w)]:
        with pytest.raises(rm.SpecError, match=words) as ei:
            make()
        assert ei.value.field in ("weights", "weights.matrix", "w")
    # an integer .npy file is refused by the reader with the same rule
    with pytest.raises(rm.SpecError, match="complex"):
        rm.Weights.spectrum(np.ones(3, dtype=complex))


def test_int64_matrix_refused_from_numpy_and_npy_alike(tmp_path):
    w = np.arange(12, dtype=np.int64).reshape(4, 3)
    np.save(tmp_path / "w.npy", w)
    with pytest.raises(rm.SpecError, match="int64"):
        rm.Weights.file(tmp_path / "w.npy")
    with pytest.raises(rm.SpecError, match="int64"):
        rm.Weights.matrix(w)
    # a spectrum given as ints is a list of numbers, not a weight matrix: accepted
    assert rm.Weights.spectrum(np.array([1, 2, 0])).kind == "spectrum"


@pytest.mark.parametrize("kwargs,exc,words", [
    (dict(max_iter=-1), ValueError, "max_iter = -1"),
    (dict(max_iter=2.5), TypeError, "max_iter: expected an int, got float"),
    (dict(tol="a"), TypeError, "tol: expected a real number, got str"),
    (dict(all_layers="yes"), TypeError, "all_layers: expected a bool, got str"),
    (dict(scheme="newton"), ValueError, "scheme: unknown scheme"),
    (dict(scheme=3), TypeError, "scheme: expected"),
])
def test_type_errors_name_the_argument(kwargs, exc, words):
    c = chain()
    for solve in [c.solve, lambda **k: rm.solve(c, **k), c.entropy]:
        with pytest.raises(exc, match=words):
            solve(**kwargs)
    with pytest.raises(TypeError, match="chain: expected a replica_mi.Chain, got str"):
        rm.solve("chain.toml")


def test_all_layers_takes_a_bool_variable_and_numpy_bool():
    c = chain()
    flag = True
    assert isinstance(c.solve(all_layers=flag), list)
    assert isinstance(c.solve(all_layers=np.bool_(False)), rm.Estimate)


def test_unknown_activation_reported_as_such():
    with pytest.raises(rm.SpecError, match='activation: unknown "leaky_relu"; allowed: .*"leaky-relu"') as ei:
        rm.Layer("leaky_relu", 0.0, rm.Weights.gaussian(), alpha=1.0, slope=0.1)
    assert ei.value.field == "activation"


def test_layer_repr():
    assert repr(rm.Layer("leaky-relu", 0.5, rm.Weights.gaussian(2.0), alpha=1.5, slope=0.1)) == \
        "Layer('leaky-relu', noise_var=0.5, weights=Weights.gaussian(var=2), alpha=1.5, slope=0.1)"
    assert repr(rm.Layer("hardtanh", 0.0, np.ones((3, 2)), threshold=2.0)) == \
        "Layer('hardtanh', noise_var=0, weights=Weights.matrix(<3 x 2>, scale=1), threshold=2)"


def test_to_dict_has_what_the_json_has(tmp_path, cli):
    import json
    spec = tmp_path / "s.toml"
    spec.write_text('[prior]\nkind = "gaussian"\nvar = 1.0\n\n[[layers]]\nalpha = 1.5\nactivation = "relu"\nnoise_var = 0.01\nweights = { kind = "gaussian", var = 1.0 }\n')
    d = rm.solve_file(spec).to_dict()
    j = json.loads(subprocess.run([cli, "entropy", str(spec), "--json"], capture_output=True, text=True, check=True).stdout)
    # every field of a converged record; converged/error are the CLI's way to report failures,
    # which Python raises instead, and notes belong to the chain (`chain.notes`), not to an estimate
    assert set(j) - {"converged", "error", "notes"} == set(d)
    assert j["notes"] == rm.Chain.from_file(spec).notes
    for k in ["entropy", "mutual_information", "mi_last_layer", "mmse", "scheme", "iterations", "order_params"]:
        assert d[k] == j[k], k  # JSON round-trips f64 exactly
    json.dumps(d)


def test_not_converged_advice_is_actionable():
    # a bounded spectrum where the fixed-point scheme alone has no theta root: the message names
    # the scheme keyword that Python now has, and that keyword works
    layers = [rm.Layer("sign", 0.0, rm.Weights.spectrum(np.linspace(0.2, 1.0, 30)), alpha=1.0),
              rm.Layer("linear", 1e-4, rm.Weights.spectrum(np.linspace(0.2, 1.0, 30)), alpha=1.0)]
    c = rm.Chain(rm.Prior.binary(0.5), layers)
    try:
        c.solve(scheme="fixed-point", max_iter=200)
    except rm.NotConvergedError as e:
        if "theta equation" in str(e):
            assert 'scheme="ml-vamp"' in str(e)
    assert c.solve(scheme="ml-vamp").scheme == "ml-vamp"


def test_stub_names_exist_at_run_time():
    import ast
    import pathlib
    stub = pathlib.Path(rm.__file__).with_name("__init__.pyi")
    tree = ast.parse(stub.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    missing = sorted(n for n in names if not n.startswith("_") and not hasattr(rm, n))
    assert not missing, missing


def test_module_runs_as_a_command():
    p = subprocess.run([sys.executable, "-m", "replica_mi", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "entropy" in p.stdout


def test_readme_python_example_runs_as_written(capsys):
    from conftest import REPO
    text = (REPO / "README.md").read_text()
    section = text[text.index("\n## Quick start: Python\n"):]
    code = section[section.index("```python\n") + len("```python\n"):]
    code = code[:code.index("```")]
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["1", "2"], lines
