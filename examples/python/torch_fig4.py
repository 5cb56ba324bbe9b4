"""The recognition experiment of the paper's Figure 4 in PyTorch, with USV layers, and I(X;T_l) of
its four hidden layers tracked during training by replica_mi.torch.MITracker.

    python examples/python/torch_fig4.py [--scale quick|default] [--variant linear-relu|linear-hardtanh]
                                         [--epochs N] [--mi-every K] [--seed S] [--out FILE.csv]
                                         [--threads N]

Data (as src/experiment/fig4.rs): latent Y ~ N(0, I_{n_Y}), X = W_g Y + eps with W_g entries
N(0, 1/n_Y) and eps ~ N(0, 0.01), label 1[Y_1 > 0]; 2 * 100 * n_X samples, half for training.
Network: 4 USVLinear layers n_X - 2 n_X - n_X - n_X/2 - n_Y (linear-ReLU-linear-ReLU, or
linear-hardtanh-linear-hardtanh) and a dense bias-free softmax output of 2 classes; plain SGD on
the cross-entropy, lr 0.01, batch 100, float32. Scales: default = 1/5 of the paper's widths
(100-200-100-50-20-2, n_Y = 20, 50 epochs); quick = 20-40-20-10-5-2, n_Y = 5, 4 epochs.

The chain: prior N(0, 1) on Y -> the generative layer (spectrum of W_g^T W_g, linear, noise 0.01)
-> the USV layers 1..l (noiseless inside, noise 1e-5 at T_l). Every `mi_every` epochs (epoch 0
included) the tracker solves every truncation, warm-started; since the generative layer is noisy,
I(X;T_l) is the estimate's `mi_last_layer` (T_l depends on X through noiseless layers only).
Values in nats per latent unit n_Y.

Needs PyTorch (and replica_mi); pandas is optional (only for the summary table).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time

import numpy as np
import torch
from torch import nn

import replica_mi as rm
from replica_mi.torch import MITracker, USVLinear

SCALES = {
    # n_Y, n_X, epochs
    "quick": (5, 20, 4),
    "default": (20, 100, 50),
}
ACTIVATIONS = {
    "linear-relu": ["linear", "relu", "linear", "relu"],
    "linear-hardtanh": ["linear", "hardtanh", "linear", "hardtanh"],
}
GAMMA = 100  # training samples per input unit
DATA_NOISE = 0.01
MEASURE_NOISE = 1e-5


def make_data(n_y: int, n_x: int, seed: int):
    """The generative model's weights W_g (n_X x n_Y) and train / test sets (float32)."""
    rng = np.random.default_rng(seed)
    w_g = rng.standard_normal((n_x, n_y)) / math.sqrt(n_y)
    n = 2 * GAMMA * n_x
    y = rng.standard_normal((n, n_y))
    x = y @ w_g.T + math.sqrt(DATA_NOISE) * rng.standard_normal((n, n_x))
    label = (y[:, 0] > 0).astype(np.int64)
    half = n // 2
    t = lambda a, dt: torch.from_numpy(a).to(dt)  # noqa: E731
    return (
        w_g,
        (t(x[:half], torch.float32), t(label[:half], torch.int64)),
        (t(x[half:], torch.float32), t(label[half:], torch.int64)),
    )


def make_network(n_y: int, n_x: int, variant: str, seed: int) -> nn.Sequential:
    widths = [n_x, 2 * n_x, n_x, n_x // 2, n_y]
    layers: list = [
        USVLinear(widths[i], widths[i + 1], activation=a, seed=seed + i)
        for i, a in enumerate(ACTIVATIONS[variant])
    ]
    out = nn.Linear(n_y, 2, bias=False)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        out.weight.copy_(torch.randn(2, n_y, generator=gen) / math.sqrt(n_y))
    return nn.Sequential(*layers, out)


def run(scale: str = "default", variant: str = "linear-relu", epochs: int | None = None,
        mi_every: int = 2, seed: int = 0, out: str | None = None, quiet: bool = False) -> dict:
    n_y, n_x, default_epochs = SCALES[scale]
    epochs = default_epochs if epochs is None else epochs
    torch.manual_seed(seed)
    w_g, (x_tr, y_tr), (x_te, y_te) = make_data(n_y, n_x, seed)
    net = make_network(n_y, n_x, variant, seed)
    generative = rm.Layer("linear", DATA_NOISE, rm.Weights.spectrum(rm.wtw_eigenvalues(w_g)), alpha=n_x / n_y)
    tracker = MITracker(
        net,
        every=mi_every,
        n_layers=4,  # the USV layers; the softmax output is not a replica channel
        noise_var=MEASURE_NOISE,
        input_layers=[generative],
    )
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed + 200)
    losses = []
    t0 = time.perf_counter()
    solve_s = 0.0

    def track(epoch: int) -> None:
        nonlocal solve_s
        t = time.perf_counter()
        rows = tracker(epoch=epoch)
        solve_s += time.perf_counter() - t
        if rows and not quiet:
            mi = "  ".join(
                f"T{r['layer']} {r['mi_last_layer']:.4f}" if r["converged"] else f"T{r['layer']} (failed)"
                for r in rows
            )
            print(f"epoch {epoch:3d}  loss {losses[-1] if losses else float('nan'):.4f}  I(X;T_l) {mi}", flush=True)

    with torch.no_grad():
        losses.append(float(loss_fn(net(x_tr), y_tr)))
    track(0)
    n = x_tr.shape[0]
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(n, generator=order)
        total = 0.0
        for b in range(0, n, 100):
            idx = perm[b : b + 100]
            opt.zero_grad()
            loss = loss_fn(net(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
        track(epoch)
    with torch.no_grad():
        accuracy = float((net(x_te).argmax(1) == y_te).float().mean())
    wall = time.perf_counter() - t0
    rows = tracker.table()
    if out:
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    if not quiet:
        print(f"{scale} scale, {variant}: test accuracy {accuracy:.3f} after {epochs} epochs; "
              f"{wall:.1f} s in all, {solve_s:.1f} s of it in the tracker ({len(rows)} rows)")
    return {"rows": rows, "losses": losses, "accuracy": accuracy, "wall_s": wall, "tracker_s": solve_s}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="default")
    p.add_argument("--variant", choices=sorted(ACTIVATIONS), default="linear-relu")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--mi-every", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="CSV of the tracker's rows")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest for these small layers)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    run(a.scale, a.variant, a.epochs, a.mi_every, a.seed, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
