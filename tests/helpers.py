"""Small builders shared by the tests."""

from __future__ import annotations

import torch

from sg_lava.network import GammaNetwork


def dense_net(sizes, K=3, per_synapse=False, timing="lava", seed=0, theta0=0.1):
    torch.manual_seed(seed)
    layers = [{"type": "dense", "out_features": n} for n in sizes[1:]]
    return GammaNetwork(
        {
            "input_shape": [sizes[0]],
            "layers": layers,
            "K": K,
            "per_synapse": per_synapse,
            "timing": timing,
            "theta0": theta0,
        }
    )


def conv_net(K=3, per_synapse=False, timing="lava", seed=0, pool=True):
    torch.manual_seed(seed)
    layers = [{"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1}]
    if pool:
        layers.append({"type": "pool", "kernel_size": 2})
    layers += [
        {"type": "conv", "out_channels": 3, "kernel_size": 3, "stride": 1},
        {"type": "flatten"},
        {"type": "dense", "out_features": 3},
    ]
    return GammaNetwork(
        {
            "input_shape": [2, 8, 8],
            "layers": layers,
            "K": K,
            "per_synapse": per_synapse,
            "timing": timing,
        }
    )


def events(shape, T, p=0.3, batch=4, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, T, *shape, generator=g) < p).to(dtype)
