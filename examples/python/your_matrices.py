"""replica_mi on your own weight matrices: a small numpy network, its layer-wise entropies and
mutual informations, the same network read back from a weight file through a spec, and warm
starts across "epochs".

    python examples/python/your_matrices.py        (after `make python-test` or `pip install ./python`)

Assumption to keep in mind: the replica formula holds for orthogonally invariant weights (true by
construction for USV-trained networks); for an unconstrained trained matrix only its spectrum is
used, and the result is an approximation.
"""

import pathlib
import sys
import tempfile

import numpy as np

import replica_mi as rm

rng = np.random.default_rng(0)
n0, widths = 400, [600, 300, 100]
noise = 1e-3

# Your matrices, PyTorch orientation (n_out x n_in), e.g. [m.weight.detach().numpy() for m in net]
mats, n_in = [], n0
for n_out in widths:
    mats.append(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in))
    n_in = n_out

def chain_of(mats):
    layers = [rm.Layer("relu", 0.0, w) for w in mats[:-1]]  # alpha taken from each shape
    layers.append(rm.Layer("linear", noise, mats[-1]))        # the output layer is measured
    return rm.Chain(rm.Prior.gaussian(var=1.0), layers)

chain = chain_of(mats)
print(f"alphas from the shapes: {[round(a, 4) for a in chain.alphas]}")
print("layer  H(T_l)/n_0   I(X;T_l)/n_0  MMSE of X  scheme")
results = chain.solve(all_layers=True)
for r in results:
    print(f"{r.layer:5d}  {r.entropy:10.6f}  {r.mutual_information:12.6f}  {r.mmse:9.6f}  {r.scheme}")

# The same network from a weight file, through a spec file (the command line reads it too)
with tempfile.TemporaryDirectory() as d:
    d = pathlib.Path(d)
    np.savez_compressed(d / "net.npz", **{f"fc{i + 1}": w for i, w in enumerate(mats)})
    layers = ""
    for i in range(len(mats)):
        last = i == len(mats) - 1
        layers += (
            f'[[layers]]\nactivation = "{"linear" if last else "relu"}"\nnoise_var = {noise if last else 0.0}\n'
            f'weights = {{ kind = "matrix", file = "net.npz", tensor = "fc{i + 1}" }}\n'
        )
    (d / "net.toml").write_text(f'[prior]\nkind = "gaussian"\nvar = 1.0\n{layers}')
    from_file = rm.solve_file(d / "net.toml")
    print(f"from net.npz via a spec: H = {from_file.entropy:.6f} (same as above: {from_file.entropy == results[-1].entropy})")

# "Training": the weights move a little each epoch; each solve starts from the previous one
prev = None
for epoch in range(4):
    mats = [w + 0.01 * rng.standard_normal(w.shape) / np.sqrt(w.shape[1]) for w in mats]
    res = chain_of(mats).solve(all_layers=True, warm_start=prev)
    sweeps = sum(r.counters["sweeps_fixed_point"] + r.counters["sweeps_vamp"] for r in res)
    print(f"epoch {epoch}: I(X;T_l)/n_0 = {[round(r.mutual_information, 5) for r in res]}  ({sweeps} sweeps)")
    prev = res

sys.exit(0)
