#!/usr/bin/env python3
"""Side-by-side seconds per SGD epoch: replica-mi (Rust, examples/epoch_timing.rs) against PyTorch
on the same CPU, same networks, same data size.

Networks: widths 100-200-100-50-20-2 and 500-1000-500-250-100-2, activations
linear-relu-linear-relu-softmax, no biases, float32, 10 000 Gaussian samples with random labels,
cross-entropy, batch 100, plain SGD lr 0.01, reshuffled every epoch.
* usv: every layer but the last is x -> ((x V) * s) U^T with U, V frozen (thin SVD of a Gaussian
  draw N(0, 1/n_in)), only s trained; the last layer is dense.
* usv-unfused: the same networks; replica-mi without fusing its linear USV layers into the next
  layer (TrainConfig::fuse_linear = false: the very products PyTorch computes). PyTorch runs its
  usv network for it.
* dense: every layer is an ordinary weight matrix (N(0, 1/n_in)).

Each configuration (scale, network, threads) is measured in pairs: one Rust process, one PyTorch
run, the order alternating from pair to pair so that a change of the machine's load hits both
sides alike. Each side runs a warm-up epoch and then --epochs timed epochs; a pair's ratio is
(median Rust epoch) / (median PyTorch epoch). The table gives the medians over all timed epochs and
the median of the paired ratios. Threads: RAYON_NUM_THREADS for Rust, torch.set_num_threads for
PyTorch.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

SCALES = {
    "small": [100, 200, 100, 50, 20, 2],
    "full": [500, 1000, 500, 250, 100, 2],
}
ACTS = ["linear", "relu", "linear", "relu", "softmax"]


def act(name, z):
    if name == "relu":
        return torch.relu(z)
    return z  # linear; the final softmax is inside the cross-entropy


class UsvNet(torch.nn.Module):
    def __init__(self, widths, kind, gen):
        super().__init__()
        self.frozen = []
        self.trained = torch.nn.ParameterList()
        self.kinds = []
        n_layers = len(widths) - 1
        for i in range(n_layers):
            n_in, n_out = widths[i], widths[i + 1]
            g = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64) / n_in**0.5
            if kind.startswith("usv") and i + 1 < n_layers:
                u, s, vh = torch.linalg.svd(g, full_matrices=False)
                v = vh.T.contiguous().float()  # n_in x k
                ut = u.T.contiguous().float()  # k x n_out
                self.frozen.append((v, ut))  # plain tensors: requires_grad = False
                self.trained.append(torch.nn.Parameter(s.float()))
                self.kinds.append("usv")
            else:
                self.frozen.append(None)
                self.trained.append(torch.nn.Parameter(g.T.contiguous().float()))
                self.kinds.append("dense")

    def forward(self, x):
        h = x
        for i, kind in enumerate(self.kinds):
            if kind == "usv":
                v, ut = self.frozen[i]
                z = ((h @ v) * self.trained[i]) @ ut
            else:
                z = h @ self.trained[i]
            h = act(ACTS[i], z)
        return h


def torch_epochs(widths, kind, threads, warmup, epochs, samples, batch, seed):
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, widths[0], generator=gen)
    y = torch.randint(0, widths[-1], (samples,), generator=gen)
    net = UsvNet(widths, kind, gen)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    times = []
    for e in range(warmup + epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(samples, generator=gen)
        loss_sum, correct = 0.0, 0
        for start in range(0, samples, batch):
            idx = perm[start : start + batch]
            xb, yb = x[idx], y[idx]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            correct += int((logits.argmax(1) == yb).sum())
        dt = time.perf_counter() - t0
        if e >= warmup:
            times.append(dt)
    return times


def rust_epochs(binary, widths, kind, threads, warmup, epochs, samples, batch, seed):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        [
            binary,
            "--widths", "-".join(map(str, widths)),
            "--acts", "-".join(ACTS),
            "--kind", kind,
            "--samples", str(samples),
            "--batch", str(batch),
            "--warmup", str(warmup),
            "--epochs", str(epochs),
            "--seed", str(seed),
        ],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    return [float(l.split()[1]) for l in out.splitlines() if l.startswith("epoch_seconds")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rust-bin", required=True)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--scales", default="small,full")
    ap.add_argument("--kinds", default="usv,usv-unfused,dense")
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load}, torch {torch.__version__}, "
          f"{a.pairs} alternating pairs x {a.epochs} timed epochs (after {a.warmup} warm-up)")
    rows = []
    for scale in a.scales.split(","):
        widths = SCALES[scale]
        for kind in a.kinds.split(","):
            for threads in map(int, a.threads.split(",")):
                rs, ts, ratios = [], [], []
                for p in range(a.pairs):
                    seed = 1000 + p
                    args = (widths, kind, threads, a.warmup, a.epochs, a.samples, a.batch, seed)
                    if p % 2 == 0:
                        r = rust_epochs(a.rust_bin, *args)
                        t = torch_epochs(*args)
                    else:
                        t = torch_epochs(*args)
                        r = rust_epochs(a.rust_bin, *args)
                    rs += r
                    ts += t
                    ratios.append(statistics.median(r) / statistics.median(t))
                row = (scale, kind, threads, statistics.median(rs), statistics.median(ts),
                       statistics.median(ratios), min(ratios), max(ratios))
                rows.append(row)
                print(f"{scale:>5} {kind:>5} {threads}T  rust {row[3]:.4f} s  torch {row[4]:.4f} s  "
                      f"ratio {row[5]:.3f} [{row[6]:.3f}, {row[7]:.3f}]", file=sys.stderr, flush=True)
    print()
    print("| widths | network | threads | replica-mi s/epoch | PyTorch s/epoch | ratio (paired median) | ratio range |")
    print("|---|---|---|---|---|---|---|")
    for scale, kind, th, r, t, q, lo, hi in rows:
        w = "-".join(map(str, SCALES[scale]))
        print(f"| {w} | {kind} | {th} | {r:.4f} | {t:.4f} | {q:.3f} | {lo:.3f}-{hi:.3f} |")
    print()
    print("| widths | network | replica-mi 1T/2T | PyTorch 1T/2T |")
    print("|---|---|---|---|")
    by = {(s, k, th): (r, t) for s, k, th, r, t, *_ in rows}
    for scale in a.scales.split(","):
        for kind in a.kinds.split(","):
            if (scale, kind, 1) in by and (scale, kind, 2) in by:
                r1, t1 = by[(scale, kind, 1)]
                r2, t2 = by[(scale, kind, 2)]
                w = "-".join(map(str, SCALES[scale]))
                print(f"| {w} | {kind} | {r1 / r2:.2f}x | {t1 / t2:.2f}x |")


if __name__ == "__main__":
    main()
