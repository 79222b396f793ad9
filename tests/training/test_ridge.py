"""--mode ridge: hidden layers from the data, the output layer in closed form."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sg_lava.data.tasks import TaskData
from sg_lava.errors import UserError
from sg_lava.export.readout import readout_mask
from sg_lava.model.network import GammaNetwork
from sg_lava.training.ridge import LAMBDAS, data_init, fit_readout, layer_buckets, loo_ridge
from tests.helpers import dense_net


def test_loo_ridge_is_ridge_and_its_leave_one_out_error_is_the_brute_force_one():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 5))
    Y = rng.normal(size=(12, 2))
    A, Y = A - A.mean(0), Y - Y.mean(0)
    coef, lam, loo = loo_ridge(A, Y)
    assert lam in LAMBDAS
    direct = np.linalg.solve(A.T @ A + lam * np.eye(5), A.T @ Y)
    np.testing.assert_allclose(coef, direct, rtol=1e-8, atol=1e-10)
    errors = []
    for i in range(12):  # refit without sample i, centring on the others
        keep = np.arange(12) != i
        a, y = A[keep], Y[keep]
        am, ym = a.mean(0), y.mean(0)
        c = np.linalg.solve((a - am).T @ (a - am) + lam * np.eye(5), (a - am).T @ (y - ym))
        errors.append(((Y[i] - ym - (A[i] - am) @ c) ** 2).mean())
    assert loo == pytest.approx(np.mean(errors), rel=1e-6)


def signals(n=40, T=30, seed=0):
    """Two classes of real-valued series: a bump early or late, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    t = torch.arange(T)
    centre = torch.where(y == 0, 8, 20).unsqueeze(1)
    x = torch.exp(-((t - centre) ** 2) / 8.0) + 0.3 * torch.randn(n, T, generator=g)
    mask = torch.from_numpy(readout_mask("all", n, T))
    return TaskData(x.unsqueeze(-1), y, mask, 2)


def ridge_net(per_synapse=True) -> GammaNetwork:
    net = dense_net([1, 32, 2], K=4, theta0=0.1)
    config = copy.deepcopy(net.config)
    config["layers"][-1]["per_synapse"] = per_synapse
    return GammaNetwork(config).double()


def test_data_init_gives_every_hidden_neuron_unit_scale_and_a_sparse_operating_point():
    net, data = ridge_net(), signals()
    data_init(net, data.x.double(), seed=1)
    layer = net.gamma_layers[0]
    buckets = layer_buckets(net, data.x.double(), 0)[:, 1:31]  # Lava timing: from step 1
    x = layer.presynaptic_readout(buckets.flatten(0, 1)).detach()
    z = x - layer.bias.detach()
    assert torch.allclose(z.std(0), torch.ones(32, dtype=z.dtype), rtol=1e-6)
    active = (x > 0).double().mean(0)
    assert (active > 0.03).all() and (active < 0.33).all()  # q drawn in [0.7, 0.95]


def test_the_network_computes_exactly_the_fitted_classifier():
    net, data = ridge_net(), signals()
    data_init(net, data.x.double(), seed=0)
    info = fit_readout(net, TaskData(data.x.double(), data.y, data.mask, 2))
    assert info["features"] == 4 * 32
    with torch.no_grad():
        out = net(torch.nn.functional.pad(data.x.double(), (0, 0, 0, net.latency)))
    scores = out[:, net.latency :].sum(1)  # the 'all' window, delayed by the latency
    assert (scores.argmax(1) == data.y).double().mean() == 1.0  # separable: fitted exactly
    test = signals(seed=5)
    with torch.no_grad():
        out = net(torch.nn.functional.pad(test.x.double(), (0, 0, 0, net.latency)))
    assert (out[:, net.latency :].sum(1).argmax(1) == test.y).double().mean() >= 0.9


def test_ridge_needs_per_synapse_bucket_weights_in_the_output_layer():
    with pytest.raises(UserError, match="per_synapse = true in the last"):
        fit_readout(ridge_net(per_synapse=False), signals())
