"""replica_mi.torch: USVLinear (the parametrisation of src/nn, its chain spectrum s^2 exactly),
chains from modules and state dicts (grad, bfloat16 / float16 / float32 / float64), the notes,
and MITracker against replica_mi.solve on the same spectra. Run by `make python-torch-test` in a
virtual environment with PyTorch (these tests need it: no skip)."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import replica_mi as rm
import replica_mi.torch as rmt


def quiet(build):
    """Build with every warning an error: the USV path must say nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build()


def caught(build):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        out = build()
    return out, [str(w.message) for w in ws if issubclass(w.category, UserWarning)]


def same(a, b):
    """Two estimates from the same path: bitwise equal."""
    assert a.entropy == b.entropy and a.mmse == b.mmse and a.mi_last_layer == b.mi_last_layer
    assert a.mutual_information == b.mutual_information
    assert a.scheme == b.scheme and a.iterations == b.iterations


def usv_net(seed=0, dtype=torch.float32):
    return nn.Sequential(
        rmt.USVLinear(30, 50, activation="relu", seed=seed, dtype=dtype),
        rmt.USVLinear(50, 20, seed=seed + 1, dtype=dtype),
        rmt.USVLinear(20, 10, activation="hardtanh", seed=seed + 2, dtype=dtype),
    )


def train_a_little(net, steps=5, seed=0):
    """A few SGD steps on random data, so that s is no longer the SVD's own output."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(steps):
        x = torch.randn(64, net[0].in_features, generator=g)
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()


def test_usv_layer_is_the_src_nn_parametrisation():
    """At initialisation W = G (the seeded Gaussian draw, entries N(0, coef^2/n_in)); U_k, V_k
    orthonormal and frozen (buffers, no grad); only s is a parameter; forward = phi(x W^T)."""
    layer = rmt.USVLinear(30, 50, activation="relu", coef=1.5, seed=7, dtype=torch.float64)
    g = torch.Generator().manual_seed(7)
    expect = torch.randn(50, 30, generator=g, dtype=torch.float64) * (1.5 / math.sqrt(30))
    # W = U diag(s) V^T of a float64 thin SVD of G: equal to G up to f64 round-off (1e-13 on
    # entries of size ~0.3 at k = 30 terms per entry)
    assert torch.allclose(layer.weight(), expect, rtol=0, atol=1e-13)
    k = 30
    assert layer.v_k.shape == (30, k) and layer.u_k_t.shape == (k, 50) and layer.s.shape == (k,)
    eye = torch.eye(k, dtype=torch.float64)
    assert torch.allclose(layer.v_k.T @ layer.v_k, eye, atol=1e-13)
    assert torch.allclose(layer.u_k_t @ layer.u_k_t.T, eye, atol=1e-13)
    assert [n for n, _ in layer.named_parameters()] == ["s"]
    assert set(layer.state_dict()) == {"s", "v_k", "u_k_t"}
    x = torch.randn(8, 30, dtype=torch.float64)
    assert torch.allclose(layer(x), torch.relu(x @ expect.T), atol=1e-12)
    h = rmt.USVLinear(30, 20, activation="hardtanh", seed=1, dtype=torch.float64)
    assert torch.allclose(h(4 * x), torch.clamp(4 * x @ h.weight().T, -1, 1), atol=1e-12)
    # same seed, same layer; another seed, another one
    assert torch.equal(rmt.USVLinear(30, 50, seed=7).s, rmt.USVLinear(30, 50, seed=7).s)
    assert not torch.equal(rmt.USVLinear(30, 50, seed=7).s, rmt.USVLinear(30, 50, seed=8).s)
    with pytest.raises(ValueError, match="activation"):
        rmt.USVLinear(3, 3, activation="softmax")


def test_usv_chain_has_spectrum_s2_exactly():
    net = usv_net()
    train_a_little(net)
    chain = quiet(lambda: rmt.chain_from_module(net, noise_var=1e-4))
    assert chain.notes == []
    expected = []
    for m in net:
        s = np.array(m.s.detach().tolist(), dtype=np.float64)  # independent of to_numpy
        eig = np.zeros(m.in_features)
        eig[: s.size] = s * s
        expected.append(eig)
        assert np.array_equal(m.spectrum(), eig)
    by_hand = rm.Chain(
        rm.Prior.gaussian(),
        [
            rm.Layer("relu", 0.0, rm.Weights.spectrum(expected[0]), alpha=50 / 30),
            rm.Layer("linear", 0.0, rm.Weights.spectrum(expected[1]), alpha=20 / 50),
            rm.Layer("hardtanh", 1e-4, rm.Weights.spectrum(expected[2]), alpha=10 / 20),
        ],
    )
    assert chain.alphas == by_hand.alphas
    for a, b in zip(chain.solve(all_layers=True), by_hand.solve(all_layers=True)):
        same(a, b)
    # and s^2 is the spectrum of the W the layer applies: float32 factors, so the eigenvalues of
    # W^T W agree to float32 round-off (relative 1e-5 of the largest: eps_32 = 6e-8 times the
    # ~50 terms of each entry, squared norms)
    for m, eig in zip(net, expected):
        w = m.weight().detach().double().numpy()
        got = np.sort(rm.wtw_eigenvalues(w))
        assert np.max(np.abs(got - np.sort(eig))) < 1e-5 * eig.max()


def test_state_dict_dtypes_and_grad():
    """Tensors with grad in float64 / float32 / float16 / bfloat16: converted exactly to float64,
    so the chain equals the one built from that exact float64 array (bitwise), and the spectrum
    is within the rounding of the dtype of the float64 original's (Weyl: |s_i(W + E) - s_i(W)| <=
    ||E||_2 <= ||E||_F <= u ||W||_F, u the dtype's unit round-off)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 10, bias=False)).double()
    sd64 = dict(model.state_dict(keep_vars=True))
    assert sd64["0.weight"].requires_grad
    layers = [("0.weight", "relu"), ("2.weight", "linear")]
    for dtype, u in [(torch.float64, 0.0), (torch.float32, 2.0**-24), (torch.float16, 2.0**-11), (torch.bfloat16, 2.0**-8)]:
        sd = {k: v.to(dtype) for k, v in sd64.items()}
        assert sd["0.weight"].requires_grad and sd["0.weight"].dtype == dtype
        chain, msgs = caught(lambda: rmt.chain_from_state_dict(sd, layers, noise_var=1e-3))
        # the bias note and the spectrum-only note, one warning each
        assert len(msgs) == 2 and msgs == chain.notes, msgs
        assert any("0.bias: biases are ignored" in m for m in msgs), msgs
        assert any("Haar-random" in m for m in msgs), msgs
        exact = [np.array(sd[k].detach().to(torch.float64).tolist()) for k, _ in layers]
        by_hand = rm.Chain(
            rm.Prior.gaussian(),
            [rm.Layer("relu", 0.0, exact[0]), rm.Layer("linear", 1e-3, exact[1])],
            assume_invariant=True,
        )
        for a, b in zip(chain.solve(all_layers=True), by_hand.solve(all_layers=True)):
            same(a, b)
        for (k, _), e in zip(layers, exact):
            w64 = sd64[k].detach().numpy()
            s_got = np.sqrt(np.sort(rm.wtw_eigenvalues(e)))
            s_ref = np.sqrt(np.sort(rm.wtw_eigenvalues(w64)))
            # + 1e-12: the two float64 SVDs' own round-off
            assert np.max(np.abs(s_got - s_ref)) <= u * np.linalg.norm(w64) + 1e-12, (dtype, k)
        quiet_chain, msgs = caught(lambda: rmt.chain_from_state_dict(sd, layers, noise_var=1e-3, assume_invariant=True))
        assert len(msgs) == 1 and "biases are ignored" in msgs[0]
    # numpy values work too; a missing key names what is there
    np_sd = {k: v.detach().numpy() for k, v in sd64.items()}
    rmt.chain_from_state_dict(np_sd, layers, assume_invariant=True)
    with pytest.raises(KeyError, match="fc9.weight"):
        rmt.chain_from_state_dict(np_sd, [("fc9.weight", "relu")])


def test_usv_state_dict_is_a_spectrum():
    net = usv_net()
    train_a_little(net)
    sd = dict(net.state_dict(keep_vars=True))
    chain = quiet(lambda: rmt.chain_from_state_dict(sd, [("0.s", "relu"), ("1.s", "linear"), ("2.s", "hardtanh")], noise_var=1e-4))
    ref = rmt.chain_from_module(net, noise_var=1e-4)
    for a, b in zip(chain.solve(all_layers=True), ref.solve(all_layers=True)):
        same(a, b)


def test_module_activations_are_read_from_the_modules():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(20, 30, bias=False), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(30, 25, bias=False), nn.Hardtanh(-2.0, 2.0),
        nn.Linear(25, 20, bias=False), nn.LeakyReLU(0.1),
        nn.Linear(20, 5, bias=False),
    )
    chain, msgs = caught(lambda: rmt.chain_from_module(model, noise_var=1e-3, n_layers=3))
    assert len(msgs) == 1 and "Haar-random" in msgs[0] and "bias" not in msgs[0]
    w = [model[i].weight.detach().double().numpy() for i in (0, 3, 5)]
    by_hand = rm.Chain(
        rm.Prior.gaussian(),
        [
            rm.Layer("relu", 0.0, w[0]),
            rm.Layer("hardtanh", 0.0, w[1], threshold=2.0),
            rm.Layer("leaky-relu", 1e-3, w[2], slope=0.1),
        ],
        assume_invariant=True,
    )
    for a, b in zip(chain.solve(all_layers=True), by_hand.solve(all_layers=True)):
        same(a, b)
    # explicit activations override; per-layer noises
    chain = rmt.chain_from_module(model, noise_var=[0.0, 0.0, 0.0, 1e-3], activations=["relu"] * 4, assume_invariant=True)
    assert len(chain) == 4
    with pytest.raises(ValueError, match="noise_var"):
        rmt.chain_from_module(model, noise_var=[1e-3, 1e-3])
    with pytest.raises(ValueError, match="no nn.Linear"):
        rmt.chain_from_module(nn.ReLU())
    # an activation that is not a replica channel is an error, not a silent linear layer
    with pytest.raises(ValueError, match="followed by Tanh"):
        rmt.chain_from_module(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), assume_invariant=True)
    with pytest.raises(ValueError, match="symmetric"):
        rmt.chain_from_module(nn.Sequential(nn.Linear(3, 3), nn.Hardtanh(0.0, 1.0)), assume_invariant=True)
    # a single layer is a model too
    assert len(rmt.chain_from_module(nn.Linear(4, 3, bias=False), assume_invariant=True)) == 1


def test_tracker_equals_solve_on_the_same_spectra():
    """Three 'epochs' of training; at each the tracker's rows equal rm.solve(all_layers=True)
    on a chain built by hand from s^2, warm-started from the previous by-hand result (same path:
    bitwise), and the cold solves within 1e-7 (another path to the same fixed point; the bound
    of the existing warm-start test, test_api.py)."""
    net = usv_net(seed=3)
    tracker = rmt.MITracker(net, noise_var=1e-4)
    prev = None
    for epoch in range(3):
        if epoch:
            train_a_little(net, seed=epoch)
        rows = quiet(lambda: tracker(epoch=epoch))
        assert [r["layer"] for r in rows] == [1, 2, 3]
        assert [r["name"] for r in rows] == ["0", "1", "2"]
        eigs = [m.spectrum() for m in net]
        chain = rm.Chain(
            rm.Prior.gaussian(),
            [
                rm.Layer("relu", 0.0, rm.Weights.spectrum(eigs[0]), alpha=50 / 30),
                rm.Layer("linear", 0.0, rm.Weights.spectrum(eigs[1]), alpha=20 / 50),
                rm.Layer("hardtanh", 1e-4, rm.Weights.spectrum(eigs[2]), alpha=10 / 20),
            ],
        )
        est = rm.solve(chain, all_layers=True, warm_start=prev)
        cold = rm.solve(chain, all_layers=True)
        for r, e, c in zip(rows, est, cold):
            assert r["epoch"] == epoch and r["converged"] and r["error"] is None
            assert r["entropy"] == e.entropy and r["mmse"] == e.mmse
            assert r["mutual_information"] == e.mutual_information and r["mi_last_layer"] == e.mi_last_layer
            assert r["scheme"] == e.scheme and r["iterations"] == e.iterations and r["residual"] == e.residual
            assert r["warm_started"] == (epoch > 0)
            assert abs(r["entropy"] - c.entropy) < 1e-7 and abs(r["mutual_information"] - c.mutual_information) < 1e-7
        prev = est
    table = tracker.table()
    assert len(table) == 9 and table[0]["epoch"] == 0 and table[-1]["epoch"] == 2
    df = tracker.to_pandas()
    assert df.shape[0] == 9 and list(df["entropy"]) == [r["entropy"] for r in table]


def test_tracker_every_k_and_input_layers():
    net = usv_net(seed=5)
    gen = rm.Layer("linear", 0.01, rm.Weights.gaussian(1.0), alpha=1.5)
    tracker = rmt.MITracker(net, every=2, noise_var=1e-4, input_layers=[gen], n_layers=2)
    measured = [tracker(step=k) is not None for k in range(5)]
    assert measured == [True, False, True, False, True]
    rows = tracker.table()
    assert [r["step"] for r in rows] == [0, 0, 2, 2, 4, 4] and [r["layer"] for r in rows] == [1, 2] * 3
    # the generative layer is noisy: I(X;T_l) is mi_last_layer, mutual_information undefined
    assert all(r["mutual_information"] is None and r["mi_last_layer"] > 0 for r in rows)
    # rows equal the chain's own truncations 2 and 3 (the first is the input layer)
    chain = rm.Chain(
        rm.Prior.gaussian(),
        [gen, rm.Layer("relu", 0.0, rm.Weights.spectrum(net[0].spectrum()), alpha=50 / 30),
         rm.Layer("linear", 1e-4, rm.Weights.spectrum(net[1].spectrum()), alpha=20 / 50)],
    )
    est = chain.solve(all_layers=True)
    assert rows[0]["entropy"] == est[1].entropy and rows[1]["entropy"] == est[2].entropy
    # a function returning a chain is a source too
    t2 = rmt.MITracker(lambda: chain)
    assert [r["entropy"] for r in t2(epoch=0)] == [e.entropy for e in est]
    with pytest.raises(ValueError, match="every"):
        rmt.MITracker(net, every=0)
