"""examples/python/torch_fig4.py at its quick scale (seconds): it runs as a script, every solve
converges, the table has one row per hidden layer per measured epoch, the loss falls, and the
epoch-0 rows equal replica_mi.solve on the chain built by hand from the network's spectra."""

import csv
import importlib.util
import math
import pathlib
import subprocess
import sys

import replica_mi as rm

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "python" / "torch_fig4.py"


def load_example():
    spec = importlib.util.spec_from_file_location("torch_fig4", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_script_runs(tmp_path):
    out = tmp_path / "rows.csv"
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--scale", "quick", "--variant", "linear-hardtanh", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout, r.stdout
    rows = list(csv.DictReader(out.open()))
    # quick: 4 epochs, measured every 2 (0, 2, 4), 4 hidden layers
    assert [(int(x["epoch"]), int(x["layer"])) for x in rows] == [(e, l) for e in (0, 2, 4) for l in (1, 2, 3, 4)]
    assert all(x["converged"] == "True" and math.isfinite(float(x["mi_last_layer"])) for x in rows)


def test_quick_run_matches_solve():
    ex = load_example()
    res = ex.run("quick", "linear-relu", quiet=True)
    rows, losses = res["rows"], res["losses"]
    assert len(rows) == 3 * 4 and all(r["converged"] for r in rows)
    assert losses[-1] < losses[0], losses
    # epoch 0 again, by hand: same seeds give the same data and network
    n_y, n_x, _ = ex.SCALES["quick"]
    w_g, _, _ = ex.make_data(n_y, n_x, 0)
    net = ex.make_network(n_y, n_x, "linear-relu", 0)
    acts = ex.ACTIVATIONS["linear-relu"]
    layers = [rm.Layer("linear", ex.DATA_NOISE, rm.Weights.spectrum(rm.wtw_eigenvalues(w_g)), alpha=n_x / n_y)]
    for k, (m, a) in enumerate(zip(list(net)[:4], acts)):
        noise = ex.MEASURE_NOISE if k == 3 else 0.0
        layers.append(rm.Layer(a, noise, rm.Weights.spectrum(m.spectrum()), alpha=m.out_features / m.in_features))
    est = rm.Chain(rm.Prior.gaussian(), layers).solve(all_layers=True)
    for r, e in zip(rows[:4], est[1:]):
        assert r["epoch"] == 0
        assert r["mi_last_layer"] == e.mi_last_layer and r["entropy"] == e.entropy and r["mmse"] == e.mmse
